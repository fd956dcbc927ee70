{{/* Object names start with the release name (or fullnameOverride); nameOverride renames the app label. */}}
{{- define "dx.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dx.labels" -}}
app.kubernetes.io/name: {{ default "distributed-executor" .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dx.rabbitmqSecret" -}}
{{- default (printf "%s-rabbitmq" (include "dx.fullname" .)) .Values.rabbitmq.existingSecret -}}
{{- end -}}

{{- define "dx.authSecret" -}}
{{- default (printf "%s-auth" (include "dx.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{/* registry/name:tag, the tag defaulting to the chart's appVersion; a "sha256:..." tag pins a digest. */}}
{{- define "dx.image" -}}
{{- $tag := default .root.Chart.AppVersion .root.Values.image.tag -}}
{{- if hasPrefix "sha256:" $tag -}}
{{- printf "%s/%s@%s" .root.Values.image.registry .name $tag -}}
{{- else -}}
{{- printf "%s/%s:%s" .root.Values.image.registry .name $tag -}}
{{- end -}}
{{- end -}}

{{- define "dx.masterHost" -}}
{{- printf "%s-master.%s.svc" (include "dx.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* Environment shared by master and workers: broker, log level, TLS. */}}
{{- define "dx.commonEnv" -}}
- name: RABBITMQ_URL
  valueFrom:
    secretKeyRef: { name: {{ include "dx.rabbitmqSecret" . }}, key: url }
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: TASK_DELIVERY_LIMIT
  value: {{ .Values.rabbitmq.taskDeliveryLimit | quote }}
{{- if .Values.tls.enabled }}
- name: TLS_CERT_FILE
  value: /etc/distexec/tls/tls.crt
- name: TLS_KEY_FILE
  value: /etc/distexec/tls/tls.key
{{- end }}
{{- end -}}

{{/* Where a pod runs and what it is equipped with (master or a pool): the pod-spec fields a platform team sets
     per workload. Takes the master's values or a pool (poolDefaults merged with the pool's own). */}}
{{- define "dx.placement" -}}
{{- with .serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with .priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* The master's store is a PostgreSQL database shared by several masters (store.postgres set). */}}
{{- define "dx.sharedStore" -}}
{{- if or .Values.store.postgres.existingSecret .Values.store.postgres.url }}true{{ end -}}
{{- end -}}

{{- define "dx.storeSecret" -}}
{{- default (printf "%s-store" (include "dx.fullname" .)) .Values.store.postgres.existingSecret -}}
{{- end -}}
