import type { Config } from '../../config/schema.js';
import { FhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { PlainCodec, type UpdateEncoder } from '../../federation/codec.js';
import { MaskingEncoder } from '../../federation/secure-client.js';

/** The update encoder for `secagg.scheme`; federation code only sees the UpdateEncoder interface. */
export function createEncoder(config: Config, site: { site: string; secretKey: Uint8Array; logger: Logger }): UpdateEncoder | MaskingEncoder {
  switch (config.secagg.scheme) {
    case 'plain':
      return new PlainCodec();
    case 'masking':
      return new MaskingEncoder({ signingKey: site.secretKey, logger: site.logger, pollMs: 250 });
    default:
      throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', 'secagg.scheme paillier is not wired into the federation rounds yet', {
        where: { path: 'secagg.scheme' },
        hint: 'use secagg.scheme: masking (the default) or plain; the Paillier codec exists as a library (src/secagg/paillier.ts)',
      });
  }
}
