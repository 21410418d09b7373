{{/*
Chart name, truncated to a DNS label.
*/}}
{{- define "knative-fn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the Knative Service name, hence its host name. Knative derives Revision (`-00001`) and private Service
(`-00001-private`) names from it, which must stay within 63 characters: hence 49.
*/}}
{{- define "knative-fn.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 49 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 49 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 49 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart label value.
*/}}
{{- define "knative-fn.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels for top-level objects. They include the chart version, so they stay OFF the revision template.
*/}}
{{- define "knative-fn.labels" -}}
helm.sh/chart: {{ include "knative-fn.chart" . }}
{{ include "knative-fn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: function
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Selector labels: stable for the life of the release, so they are safe on the revision template.
*/}}
{{- define "knative-fn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "knative-fn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Pods of this function's revisions, as labelled by Knative.
*/}}
{{- define "knative-fn.podSelector" -}}
serving.knative.dev/service: {{ include "knative-fn.fullname" . }}
{{- end }}

{{/*
ServiceAccount name.
*/}}
{{- define "knative-fn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "knative-fn.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference: by digest when given (immutable), else by tag.
*/}}
{{- define "knative-fn.image" -}}
{{- $repo := required "image.repository is required (the function image, e.g. the ECR repository URL)" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else if .Values.image.tag }}
{{- printf "%s:%s" $repo .Values.image.tag }}
{{- else }}
{{- fail "image.digest (preferred) or image.tag is required" }}
{{- end }}
{{- end }}

{{/*
What the chart and the function share (ports, probe paths): files/contract.json, which the function's build imports.
Use: {{- $c := include "knative-fn.contract" . | fromJson }}
*/}}
{{- define "knative-fn.contract" -}}
{{- .Files.Get "files/contract.json" }}
{{- end }}

{{/*
The function's one port.
*/}}
{{- define "knative-fn.port" -}}
{{- (include "knative-fn.contract" . | fromJson).ports.http }}
{{- end }}

{{/*
Checks of values that the JSON schema cannot express; each message names the key to fix.
*/}}
{{- define "knative-fn.validate" -}}
{{- $a := .Values.autoscaling }}
{{- if and (ne (int $a.maxScale) 0) (gt (int $a.minScale) (int $a.maxScale)) }}
{{- fail (printf "autoscaling.minScale (%d) must not exceed autoscaling.maxScale (%d); maxScale 0 means unlimited" (int $a.minScale) (int $a.maxScale)) }}
{{- end }}
{{- if and (eq $a.class "hpa.autoscaling.knative.dev") (has $a.metric (list "concurrency" "rps")) }}
{{- fail (printf "autoscaling.metric %q needs autoscaling.class kpa.autoscaling.knative.dev; the HPA class scales on cpu or memory" $a.metric) }}
{{- end }}
{{- if and (eq $a.class "kpa.autoscaling.knative.dev") (has $a.metric (list "cpu" "memory")) }}
{{- fail (printf "autoscaling.metric %q needs autoscaling.class hpa.autoscaling.knative.dev" $a.metric) }}
{{- end }}
{{- if and (eq $a.metric "concurrency") (gt (int .Values.containerConcurrency) 0) (gt (float64 $a.target) (float64 .Values.containerConcurrency)) }}
{{- fail (printf "autoscaling.target (%v) must not exceed containerConcurrency (%d): pods would never reach the target" $a.target (int .Values.containerConcurrency)) }}
{{- end }}
{{- if and (not (kindIs "invalid" .Values.responseStartTimeoutSeconds)) (gt (int .Values.responseStartTimeoutSeconds) (int .Values.timeoutSeconds)) }}
{{- fail (printf "responseStartTimeoutSeconds (%d) must not exceed timeoutSeconds (%d)" (int .Values.responseStartTimeoutSeconds) (int .Values.timeoutSeconds)) }}
{{- end }}
{{- /* timeoutSeconds is also the pod's termination grace period, and the function gets SIGTERM only after
queue-proxy's drain (at least 30 s without requests, fixed in Knative): both must fit in it, or the kill comes before
the function has flushed its telemetry. */}}
{{- $drain := 30 }}
{{- if gt (add $drain (int .Values.function.shutdownTimeoutSeconds)) (int .Values.timeoutSeconds) }}
{{- fail (printf "timeoutSeconds (%d) is also the termination grace period: it must cover queue-proxy's %d s drain plus function.shutdownTimeoutSeconds (%d)" (int .Values.timeoutSeconds) $drain (int .Values.function.shutdownTimeoutSeconds)) }}
{{- end }}
{{- $total := 0 }}
{{- range .Values.traffic }}{{- $total = add $total (int .percent) }}{{- end }}
{{- if ne (int $total) 100 }}
{{- fail (printf "traffic: the percents must add up to 100 (got %d)" (int $total)) }}
{{- end }}
{{- $owned := list "METRICS_PORT" "AWS_REGION" "SECRETS" "SECRETS_REFRESH_SECONDS" "LOG_LEVEL" "REQUEST_TIMEOUT_SECONDS" "SHUTDOWN_TIMEOUT_SECONDS" }}
{{- range $name, $_ := .Values.function.env }}
{{- if or (eq $name "PORT") (hasPrefix "K_" $name) }}
{{- fail (printf "function.env: %s is reserved by Knative" $name) }}
{{- end }}
{{- if or (has $name $owned) (hasPrefix "OTEL_" $name) }}
{{- fail (printf "function.env: %s is set by the chart from its own value (function.*, timeoutSeconds or telemetry.*)" $name) }}
{{- end }}
{{- end }}
{{- if and .Values.domainMapping.enabled (not .Values.domainMapping.domain) }}
{{- fail "domainMapping.domain is required when domainMapping.enabled is true" }}
{{- end }}
{{- end }}

{{/*
Relabelings that give every scraped series `service` and `revision` labels (used by the alerts and the dashboard).
*/}}
{{- define "knative-fn.podMonitorLabels" -}}
- sourceLabels: [__meta_kubernetes_pod_label_serving_knative_dev_service]
  targetLabel: service
- sourceLabels: [__meta_kubernetes_pod_label_serving_knative_dev_revision]
  targetLabel: revision
{{- end }}
