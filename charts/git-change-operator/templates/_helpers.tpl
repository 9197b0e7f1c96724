{{/* The namespace of every namespaced object: namespace.name, or the release's (helm install -n). */}}
{{- define "gco.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/*
Helm's standard labels, on each object's own metadata only: in a selector or the pod template they
would change with every chart version and restart or orphan the pods. The drift test against
manifests/default ignores exactly these keys.
*/}}
{{- define "gco.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- define "gco.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/*
What values.schema.json cannot say, refused with the reason. Types, patterns and unknown keys are the
schema's.
*/}}
{{- define "gco.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail (printf "replicas: %d replicas need leaderElection.enabled=true: without it every replica would run every execution" (int .Values.replicas)) -}}
{{- end -}}
{{- $ns := include "gco.namespace" . -}}
{{- if and .Values.namespace.create (has $ns (list "default" "kube-system" "kube-public" "kube-node-lease")) -}}
{{- fail (printf "namespace: with namespace.create=true the release would own namespace %q (labels, and deletion on uninstall); set namespace.name to a namespace of its own, or namespace.create=false" $ns) -}}
{{- end -}}
{{- $owned := dict
  "manager" (list "--leader-elect" "--sidecar-socket" "--health-address" "--metrics-address" "--namespaces" "--trusted-namespaces" "--default-author" "--log-level")
  "sidecar" (list "--socket" "--data-dir" "--disk-budget" "--metrics-address" "--log-level") -}}
{{- range $container, $flags := $owned -}}
{{- range (index $.Values $container "extraArgs") -}}
{{- $flag := regexReplaceAll "=.*" (toString .) "" -}}
{{- if has $flag $flags -}}
{{- fail (printf "%s.extraArgs: %s is set by the chart; use its value in values.yaml (see the chart's README)" $container $flag) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
