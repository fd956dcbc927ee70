{{/* KEDA's RabbitMQ trigger for a pool: the management API (protocol http) counts messages in flight too,
     so busy workers are not scaled away; one replica per MAX_CONCURRENT_TASKS messages, summed over the pool's
     three priority queues (distexec.tasks.<pool>, .high, .low) so it sees all of the pool's waiting work. */}}
{{- define "dx.rabbitmqTrigger" -}}
- type: rabbitmq
  metadata:
    protocol: http
    queueName: {{ printf "^distexec\\.tasks\\.%s(\\.high|\\.low)?$" .pool.name | squote }}
    useRegex: "true"
    operation: sum
    mode: QueueLength
    value: {{ .pool.maxConcurrentTasks | quote }}
    activationValue: {{ .pool.activationValue | quote }}
  authenticationRef:
    name: {{ include "dx.fullname" .root }}-rabbitmq
{{- end -}}

{{/* WORKER_LABELS from a pool's workerLabels map: key=value,key=value in key order. */}}
{{- define "dx.workerLabels" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $key (toString $value)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{- define "dx.workerPod" -}}
{{- $root := .root -}}
{{- $pool := .pool -}}
metadata:
  labels: {{- include "dx.labels" $root | nindent 4 }}
    app.kubernetes.io/component: worker
    distexec/pool: {{ $pool.name }}
    {{- with $pool.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: "8081"
    prometheus.io/path: /metrics
    {{- with $pool.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  # No Kubernetes API credentials where strangers' tasks run (a serviceAccountName still gets no token mounted).
  automountServiceAccountToken: false
  {{- with (include "dx.placement" $pool | trim) }}{{ . | nindent 2 }}{{- end }}
  {{- if $root.Values.taskIsolation.enabled }}
  # Root only to switch tasks to their own user (see values.yaml, taskIsolation); the container drops the rest.
  securityContext: {{- toYaml (merge (dict "runAsNonRoot" false "runAsUser" 0 "runAsGroup" 0) (omit $root.Values.podSecurityContext "runAsNonRoot" "runAsUser" "runAsGroup")) | nindent 4 }}
  {{- else }}
  securityContext: {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  {{- end }}
  {{- if .job }}
  restartPolicy: Never
  {{- end }}
  # Above the drain period: SIGTERM stops taking work, running tasks get DRAIN_TIMEOUT_SECONDS, then TERM/KILL.
  terminationGracePeriodSeconds: {{ add $pool.drainTimeoutSeconds $pool.killGraceSeconds 15 }}
  containers:
    - name: worker
      image: {{ $pool.image | default (include "dx.image" (dict "root" $root "name" $root.Values.image.worker)) }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      {{- if $root.Values.taskIsolation.enabled }}
      securityContext: {{- toYaml (merge (dict "capabilities" (dict "drop" (list "ALL") "add" (list "SETUID" "SETGID" "KILL"))) (omit $root.Values.securityContext "capabilities")) | nindent 8 }}
      {{- else }}
      securityContext: {{- toYaml $root.Values.securityContext | nindent 8 }}
      {{- end }}
      ports:
        - name: grpc
          containerPort: 50052
        - name: http
          containerPort: 8081
      env:
        {{- include "dx.commonEnv" $root | nindent 8 }}
        - name: WORKER_ID
          valueFrom:
            fieldRef: { fieldPath: metadata.name }
        - name: WORKER_ADDRESS
          value: ":50052"
        - name: WORKER_HTTP_ADDRESS
          value: ":8081"
        - name: MASTER_ADDRESS
          value: {{ printf "%s%s:%v" (ternary "https://" "" $root.Values.tls.enabled) (include "dx.masterHost" $root) $root.Values.master.port | quote }}
        - name: WORKER_TOKEN_FILE
          value: /etc/distexec/auth/worker-token
        {{- if $root.Values.tls.enabled }}
        - name: MASTER_CA_CERT_FILE
          value: /etc/distexec/tls/ca.crt
        {{- end }}
        - name: TASK_USER
          value: {{ ternary $root.Values.taskIsolation.taskUser "inherit" $root.Values.taskIsolation.enabled | quote }}
        - name: WORKER_POOL
          value: {{ $pool.name | quote }}
        - name: MAX_CONCURRENT_TASKS
          value: {{ $pool.maxConcurrentTasks | quote }}
        - name: DRAIN_TIMEOUT_SECONDS
          value: {{ $pool.drainTimeoutSeconds | quote }}
        - name: KILL_GRACE_SECONDS
          value: {{ $pool.killGraceSeconds | quote }}
        - name: OUTPUT_CAP_BYTES
          value: {{ $pool.outputCapBytes | int64 | quote }}
        - name: EXECUTOR_COMMAND_ALLOWED
          value: {{ join "," $pool.allowed | quote }}
        - name: EXECUTOR_COMMAND_BLOCKED
          value: {{ join "," $pool.blocked | quote }}
        {{- with $pool.workerLabels }}
        - name: WORKER_LABELS
          value: {{ include "dx.workerLabels" . | quote }}
        {{- end }}
        {{- if .job }}
        # A Job's worker leaves once its queue has been empty for a while, so the Job completes.
        - name: WORKER_IDLE_EXIT_SECONDS
          value: "30"
        {{- end }}
        {{- with $pool.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      readinessProbe:
        grpc: { port: 50052 }
        periodSeconds: 10
      # Liveness: the process answers (gRPC health service "liveness"); a broker outage never restarts a worker
      # and kills the tasks it runs.
      livenessProbe:
        grpc: { port: 50052, service: liveness }
        periodSeconds: 20
        failureThreshold: 3
      resources: {{- toYaml $pool.resources | nindent 8 }}
      volumeMounts:
        - { name: auth, mountPath: /etc/distexec/auth, readOnly: true }
        - { name: tmp, mountPath: /tmp }
        {{- if $root.Values.tls.enabled }}
        - { name: tls, mountPath: /etc/distexec/tls, readOnly: true }
        {{- end }}
        {{- with $pool.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: auth
      secret:
        secretName: {{ include "dx.authSecret" $root }}
        items: [{ key: worker-token, path: worker-token }]
        # Readable by the worker's user only, never by a task's.
        defaultMode: 0400
    # Tasks run with a read-only root filesystem; /tmp is their default working directory.
    - name: tmp
      emptyDir: {}
    {{- if $root.Values.tls.enabled }}
    - name: tls
      secret: { secretName: {{ $root.Values.tls.secretName }}, defaultMode: 0400 }
    {{- end }}
    {{- with $pool.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
