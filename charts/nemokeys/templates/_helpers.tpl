{{/* Names, labels and small shared fragments. Everything else in templates/ is one object kind per file. */}}

{{- define "nemokeys.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nemokeys.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "nemokeys.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "nemokeys.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "nemokeys.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "nemokeys.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nemokeys
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component ("operator" or "gateway"); never change them after install. */}}
{{- define "nemokeys.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nemokeys.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nemokeys.componentLabels" -}}
{{ include "nemokeys.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Where key records (Secrets) and gateway usage reports (ConfigMaps) live; default: the release namespace. */}}
{{- define "nemokeys.recordsNamespace" -}}
{{- default .Release.Namespace .Values.recordsNamespace.name -}}
{{- end -}}

{{- define "nemokeys.operator.name" -}}
{{- printf "%s-operator" (include "nemokeys.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nemokeys.gateway.name" -}}
{{- printf "%s-gateway" (include "nemokeys.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "nemokeys.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create -}}
{{- default (include "nemokeys.operator.name" .) .Values.operator.serviceAccount.name -}}
{{- else -}}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create=false" .Values.operator.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "nemokeys.gateway.serviceAccountName" -}}
{{- if .Values.gateway.serviceAccount.create -}}
{{- default (include "nemokeys.gateway.name" .) .Values.gateway.serviceAccount.name -}}
{{- else -}}
{{- required "gateway.serviceAccount.name is required when gateway.serviceAccount.create=false" .Values.gateway.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The router's pod runs the gateway sidecar, so the gateway's ServiceAccount lives in the router's namespace. */}}
{{- define "nemokeys.gateway.namespace" -}}
{{- default (include "nemokeys.recordsNamespace" .) .Values.gateway.namespace -}}
{{- end -}}

{{- define "nemokeys.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Hardened container securityContext shared by the operator and the gateway sidecar. */}}
{{- define "nemokeys.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The gateway sidecar container, rendered from .Values.gateway. NOTES.txt prints it after install so it can be
pasted into the router's pod spec; examples/router-with-gateway.yaml shows the same container in context.
*/}}
{{- define "nemokeys.gateway.container" -}}
- name: nemokeys-gateway
  image: {{ include "nemokeys.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- with .Values.gateway.nodeFlags }}
  command: {{ concat (list "node") . (list "--disable-warning=ExperimentalWarning" "bin/nemokeys.js") | toJson }}
  {{- end }}
  args:
    - gateway
    - --upstream={{ required "gateway.upstream is required" .Values.gateway.upstream }}
    - --listen=0.0.0.0:{{ .Values.gateway.port }}
    - --records-namespace={{ include "nemokeys.recordsNamespace" . }}
    - --metrics-port={{ .Values.gateway.metricsPort }}
    {{- if .Values.gateway.redis.existingSecret.name }}
    - --redis=$(NEMOKEYS_REDIS_URL)
    {{- end }}
    {{- with .Values.gateway.trustedProxies }}
    - --trusted-proxies={{ join "," . }}
    {{- end }}
    {{- if not .Values.gateway.perKeyLabels }}
    - --no-per-key-labels
    {{- end }}
    {{- with .Values.gateway.extraArgs }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    {{- if .Values.gateway.redis.existingSecret.name }}
    - name: NEMOKEYS_REDIS_URL
      valueFrom:
        secretKeyRef:
          name: {{ .Values.gateway.redis.existingSecret.name }}
          key: {{ .Values.gateway.redis.existingSecret.key }}
    {{- end }}
  ports:
    - name: gateway
      containerPort: {{ .Values.gateway.port }}
    - name: gateway-metrics
      containerPort: {{ .Values.gateway.metricsPort }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: gateway-metrics
    periodSeconds: 5
  livenessProbe:
    httpGet:
      path: /healthz
      port: gateway-metrics
    periodSeconds: 10
  resources:
    {{- toYaml .Values.gateway.resources | nindent 4 }}
  securityContext:
    {{- include "nemokeys.containerSecurityContext" . | nindent 4 }}
{{- end -}}
