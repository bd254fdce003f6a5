{{/* Chart name, truncated to the 63 characters DNS allows. */}}
{{- define "fhirfed.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fhirfed.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fhirfed.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "fhirfed.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
fhirfed.dev/site: {{ .Values.site.id | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels for one component (api, worker, redis, aggregator). */}}
{{- define "fhirfed.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fhirfed.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "fhirfed.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s/%s@%s" .Values.image.registry .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "fhirfed.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fhirfed.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "fhirfed.secretName" -}}
{{- default (printf "%s-secrets" (include "fhirfed.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}


{{- define "fhirfed.claimName" -}}
{{- default (printf "%s-data" (include "fhirfed.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/* Where the pods find the Paillier keys: the public key from the ConfigMap, the private key from the Secret. */}}
{{- define "fhirfed.paillierPublicKeyPath" -}}/etc/fhirfed/paillier.pub.json{{- end -}}
{{- define "fhirfed.paillierPrivateKeyPath" -}}/var/run/secrets/fhirfed/paillier-private-key{{- end -}}

{{/* "true" when this site gets secagg.paillierPrivateKeyFile (scheme paillier and a private key to read). */}}
{{- define "fhirfed.paillierDecrypts" -}}
{{- if and (eq .Values.secagg.scheme "paillier") (or .Values.secrets.paillierPrivateKey .Values.secagg.paillierDecrypt) -}}true{{- end -}}
{{- end -}}

{{/*
Refuses secure-aggregation values the gateway could not start with. The chart owns secagg.scheme and the Paillier
key paths (FHIRFED_SECAGG_* in the pods, which win over the config file), so config.secagg must not contradict them.
*/}}
{{- define "fhirfed.checkSecagg" -}}
{{- $user := default (dict) (get .Values.config "secagg") -}}
{{- if and (hasKey $user "scheme") (ne (toString (get $user "scheme")) .Values.secagg.scheme) -}}
{{- fail (printf "config.secagg.scheme is %v but secagg.scheme is %s: set the scheme only in secagg.scheme (the chart passes it as FHIRFED_SECAGG_SCHEME, which wins over the config file)" (get $user "scheme") .Values.secagg.scheme) -}}
{{- end -}}
{{- if or (hasKey $user "paillierPublicKeyFile") (hasKey $user "paillierPrivateKeyFile") -}}
{{- fail "config.secagg.paillierPublicKeyFile / paillierPrivateKeyFile are set by the chart: give the key contents in secagg.paillierPublicKey and secrets.paillierPrivateKey (or the key paillier-private-key of secrets.existingSecret) instead" -}}
{{- end -}}
{{- if and (eq .Values.secagg.scheme "paillier") (not .Values.secagg.paillierPublicKey) -}}
{{- fail "secagg.scheme is paillier but secagg.paillierPublicKey is empty: create the federation key pair once with `fhirfed secagg paillier-keygen --out keys` and pass --set-file secagg.paillierPublicKey=keys/paillier.pub.json" -}}
{{- end -}}
{{- if and .Values.secrets.existingSecret .Values.secrets.paillierPrivateKey -}}
{{- fail (printf "secrets.paillierPrivateKey is ignored with secrets.existingSecret: add it to the Secret %s under the key paillier-private-key (kubectl create secret generic ... --from-file=paillier-private-key=keys/paillier.key.json) and set secagg.paillierDecrypt=true" .Values.secrets.existingSecret) -}}
{{- end -}}
{{- if and .Values.secagg.paillierDecrypt (not .Values.secrets.existingSecret) (not .Values.secrets.paillierPrivateKey) -}}
{{- fail "secagg.paillierDecrypt is true but there is no private key: pass --set-file secrets.paillierPrivateKey=keys/paillier.key.json, or use secrets.existingSecret with the key paillier-private-key" -}}
{{- end -}}
{{- end -}}

{{/* The fhirfed config file: the user's `config` plus what the chart owns (paths, ports, site). */}}
{{- define "fhirfed.configYaml" -}}
{{- include "fhirfed.checkSecagg" . -}}
{{- $owned := dict
  "site" (dict "id" .Values.site.id "secretFile" "/var/run/secrets/fhirfed/site-secret")
  "server" (dict "port" (int .Values.api.port) "host" "0.0.0.0")
  "storage" (dict "dataDir" "/data")
  "mappings" (dict "dir" "/etc/fhirfed/mappings")
  "log" (dict "level" .Values.logLevel)
  "auth" (dict "operatorTokensFile" "/var/run/secrets/fhirfed/operator-tokens")
-}}
{{- $cfg := mergeOverwrite (deepCopy .Values.config) $owned -}}
{{- $_ := set $cfg "mllp" (mergeOverwrite (default (dict) (get $cfg "mllp")) (dict "port" (int .Values.api.mllpPort))) -}}
{{- $agg := dict "keyFile" "/var/run/secrets/fhirfed/aggregator-key" -}}
{{- if .Values.federation.aggregatorUrl }}{{- $_ := set $agg "url" .Values.federation.aggregatorUrl -}}{{- end -}}
{{- $_ := set $cfg "aggregator" (mergeOverwrite (default (dict) (get $cfg "aggregator")) $agg) -}}
{{- if .Values.federation.fhirBaseUrl }}
{{- $_ := set $cfg "fhir" (mergeOverwrite (default (dict) (get $cfg "fhir")) (dict "baseUrl" .Values.federation.fhirBaseUrl)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Environment shared by the api and worker containers. */}}
{{- define "fhirfed.env" -}}
- name: FHIRFED_CONFIG
  value: /etc/fhirfed/config.yaml
- name: NODE_ENV
  value: production
{{- if .Values.redis.enabled }}
- name: FHIRFED_REDIS_URL
  value: {{ printf "redis://%s-redis:6379" (include "fhirfed.fullname" .) | quote }}
{{- else if .Values.externalRedis.existingSecret }}
- name: FHIRFED_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalRedis.existingSecret }}
      key: redis-url
{{- else }}
- name: FHIRFED_REDIS_URL
  value: {{ required "set externalRedis.url (or externalRedis.existingSecret) when redis.enabled is false" .Values.externalRedis.url | quote }}
{{- end }}
- name: FHIRFED_SECAGG_SCHEME
  value: {{ .Values.secagg.scheme | quote }}
{{- if eq .Values.secagg.scheme "paillier" }}
- name: FHIRFED_SECAGG_PAILLIER_PUBLIC_KEY_FILE
  value: {{ include "fhirfed.paillierPublicKeyPath" . }}
{{- if include "fhirfed.paillierDecrypts" . }}
- name: FHIRFED_SECAGG_PAILLIER_PRIVATE_KEY_FILE
  value: {{ include "fhirfed.paillierPrivateKeyPath" . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Volumes shared by the api and worker pods. */}}
{{- define "fhirfed.volumes" -}}
- name: config
  configMap:
    name: {{ include "fhirfed.fullname" . }}-config
- name: mappings
  configMap:
    name: {{ include "fhirfed.fullname" . }}-mappings
    optional: true
    {{- if .Values.mappings.files }}
    items:
      {{- range $path, $_ := .Values.mappings.files }}
      - key: {{ $path | replace "/" "__" }}
        path: {{ $path }}
      {{- end }}
    {{- end }}
{{- /*
Every key of the Secret becomes a file under /var/run/secrets/fhirfed: site-secret, aggregator-key, operator-tokens
and, only where it exists, paillier-private-key (a key missing from the Secret is simply no file, so sites without the
Paillier private key start normally; the config points at it only when fhirfed.paillierDecrypts).
*/}}
- name: secrets
  secret:
    secretName: {{ include "fhirfed.secretName" . }}
    defaultMode: 0400
- name: data
  {{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ include "fhirfed.claimName" . }}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "fhirfed.volumeMounts" -}}
- name: config
  mountPath: /etc/fhirfed/config.yaml
  subPath: config.yaml
  readOnly: true
{{- if eq .Values.secagg.scheme "paillier" }}
- name: config
  mountPath: {{ include "fhirfed.paillierPublicKeyPath" . }}
  subPath: paillier.pub.json
  readOnly: true
{{- end }}
- name: mappings
  mountPath: /etc/fhirfed/mappings
  readOnly: true
- name: secrets
  mountPath: /var/run/secrets/fhirfed
  readOnly: true
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Checksums so that a config, mapping or secret change rolls the pods. */}}
{{- define "fhirfed.checksums" -}}
checksum/config: {{ include "fhirfed.configYaml" . | sha256sum }}
checksum/mappings: {{ toJson .Values.mappings | sha256sum }}
checksum/secrets: {{ toJson .Values.secrets | sha256sum }}
checksum/secagg: {{ toJson .Values.secagg | sha256sum }}
{{- end -}}

{{/* The aggregator config file: aggregator.config plus what the chart owns (server, dataDir, codec, key path). */}}
{{- define "fhirfed.aggregatorYaml" -}}
{{- $user := default (dict) (get .Values.aggregator.config "task") -}}
{{- if and (hasKey $user "codec") (ne (toString (get $user "codec")) .Values.aggregator.codec) -}}
{{- fail (printf "aggregator.config.task.codec is %v but aggregator.codec is %s: set the codec only in aggregator.codec" (get $user "codec") .Values.aggregator.codec) -}}
{{- end -}}
{{- if hasKey (default (dict) (get $user "secagg")) "paillierPublicKeyFile" -}}
{{- fail "aggregator.config.task.secagg.paillierPublicKeyFile is set by the chart: give the public key content in secagg.paillierPublicKey instead" -}}
{{- end -}}
{{- if and (eq .Values.aggregator.codec "paillier") (not .Values.secagg.paillierPublicKey) -}}
{{- fail "aggregator.codec is paillier but secagg.paillierPublicKey is empty: create the federation key pair once with `fhirfed secagg paillier-keygen --out keys` and pass --set-file secagg.paillierPublicKey=keys/paillier.pub.json (the aggregator gets only the public key)" -}}
{{- end -}}
{{- $owned := dict "server" (dict "host" "0.0.0.0" "port" (int .Values.aggregator.port)) "dataDir" "/data" -}}
{{- $cfg := mergeOverwrite (deepCopy .Values.aggregator.config) $owned -}}
{{- $task := default (dict) (get $cfg "task") -}}
{{- $_ := set $task "codec" .Values.aggregator.codec -}}
{{- if eq .Values.aggregator.codec "paillier" -}}
{{- $_ := set $task "secagg" (mergeOverwrite (default (dict) (get $task "secagg")) (dict "paillierPublicKeyFile" (include "fhirfed.paillierPublicKeyPath" .))) -}}
{{- end -}}
{{- $_ := set $cfg "task" $task -}}
{{- toYaml $cfg -}}
{{- end -}}
