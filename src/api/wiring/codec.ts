import type { Config } from '../../config/schema.js';
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { PlainCodec, type UpdateEncoder } from '../../federation/codec.js';
import { PaillierEncoder } from '../../federation/paillier-client.js';
import { MaskingEncoder, type InteractiveEncoder } from '../../federation/secure-client.js';
import { loadPaillierPrivateKey, loadPaillierPublicKey } from '../../secagg/index.js';

/** The update encoder for `secagg.scheme`; federation code only sees the UpdateEncoder / InteractiveEncoder interfaces. */
export function createEncoder(config: Config, site: { site: string; secretKey: Uint8Array; logger: Logger }): UpdateEncoder | InteractiveEncoder {
  const s = config.secagg;
  switch (s.scheme) {
    case 'plain':
      return new PlainCodec();
    case 'masking':
      return new MaskingEncoder({ signingKey: site.secretKey, logger: site.logger, pollMs: 250 });
    case 'paillier': {
      if (!s.paillierPublicKeyFile) {
        throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', 'secagg.scheme paillier needs secagg.paillierPublicKeyFile', {
          where: { path: 'secagg.paillierPublicKeyFile' },
          hint: 'create the federation key pair with `fhirfed secagg paillier-keygen --out DIR` and point secagg.paillierPublicKeyFile at DIR/paillier.pub.json',
        });
      }
      const publicKey = loadPaillierPublicKey(s.paillierPublicKeyFile, 'secagg.paillierPublicKeyFile');
      const privateKey = s.paillierPrivateKeyFile ? loadPaillierPrivateKey(s.paillierPrivateKeyFile, 'secagg.paillierPrivateKeyFile', publicKey) : undefined;
      site.logger.info({ canDecrypt: privateKey !== undefined }, 'secure aggregation: paillier');
      return new PaillierEncoder({ publicKey, privateKey, logger: site.logger, pollMs: 250 });
    }
  }
}
