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

{{/* The fhirfed config file: the user's `config` plus what the chart owns (paths, ports, site). */}}
{{- define "fhirfed.configYaml" -}}
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
{{- end -}}
