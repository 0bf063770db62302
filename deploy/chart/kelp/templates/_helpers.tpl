{{/* kelp.name is the name of every object: RELEASE-controller. */}}
{{- define "kelp.name" -}}
{{- printf "%s-controller" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* kelp.rbacName names the ClusterRole, Role and their bindings. */}}
{{- define "kelp.rbacName" -}}
{{- printf "%s:controller" .Release.Name -}}
{{- end -}}

{{- define "kelp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- include "kelp.name" . -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "kelp.selectorLabels" -}}
app.kubernetes.io/name: kelp-controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kelp.labels" -}}
{{ include "kelp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kelp.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/*
kelp.args are the container's args: `controller` and its flags, the
first-class values first, then controller.extraArgs in name order.
*/}}
{{- define "kelp.args" -}}
{{- $v := .Values -}}
{{- $c := $v.controller -}}
{{- if and (gt (int $v.replicas) 1) (not $v.leaderElection) -}}
{{- fail "replicas > 1 needs leaderElection: true (two controllers acting at once would fight over the pools)" -}}
{{- end -}}
- controller
- --cluster-name={{ required "clusterName is required: the cluster's name, as in its groups' kubernetes.io/cluster/NAME tag" $v.clusterName }}
- --region={{ required "region is required: the AWS region of the cluster's Auto Scaling groups" $v.region }}
- --leader-elect={{ $v.leaderElection }}
- --probe-addr=:{{ $v.metrics.port }}
- --web-addr={{ $v.web.addr }}
- --approve={{ $c.approve }}
- --autoscaler={{ $c.autoscaler }}
- --log-level={{ $c.logLevel }}
- --log-format={{ $c.logFormat }}
{{- range $c.nodes }}
- --nodes={{ . }}
{{- end }}
{{- range $c.nodeGroupAutoDiscovery }}
- --node-group-auto-discovery={{ . }}
{{- end }}
{{- with $c.interruptionQueue }}
- --interruption-queue={{ . }}
{{- end }}
{{- include "kelp.joinArgs" . }}
{{- $own := list "cluster-name" "region" "leader-elect" "probe-addr" "approve" "autoscaler" "log-level" "log-format" "nodes" "node-group-auto-discovery" "interruption-queue" -}}
{{- $own = concat $own (list "join-addr" "join-sts-endpoint" "join-roles" "join-account" "join-cert-hosts" "join-token-ttl" "join-rate-limit" "join-burst" "join-cert-file" "join-key-file") -}}
{{- range $name, $value := $c.extraArgs }}
{{- if has $name $own }}
{{- fail (printf "controller.extraArgs.%s: --%s has a value of its own in values.yaml; set that instead" $name $name) }}
{{- end }}
{{- if hasPrefix "-" $name }}
{{- fail (printf "controller.extraArgs: name %q without dashes" $name) }}
{{- end }}
{{- if kindIs "slice" $value }}
{{- range $value }}
- --{{ $name }}={{ . }}
{{- end }}
{{- else if kindIs "invalid" $value }}
{{- fail (printf "controller.extraArgs.%s: no value (null)" $name) }}
{{- else }}
- --{{ $name }}={{ $value }}
{{- end }}
{{- end }}
{{- end -}}

{{/* kelp.joinArgs are the identity join endpoint's flags (join.enabled). */}}
{{- define "kelp.joinArgs" -}}
{{- $j := .Values.join -}}
{{- if $j.enabled }}
- --join-addr=:{{ $j.port }}
- --join-sts-endpoint={{ required "join.stsEndpoint is required with join.enabled: the STS endpoint proofs are forwarded to, e.g. https://sts.REGION.amazonaws.com" $j.stsEndpoint }}
{{- if not $j.roles }}
{{- fail "join.roles is required with join.enabled: the IAM role names of the identity pools' instance profiles" }}
{{- end }}
{{- range $j.roles }}
- --join-roles={{ . }}
{{- end }}
{{- with $j.account }}
- --join-account={{ . }}
{{- end }}
{{- range $j.certHosts }}
- --join-cert-hosts={{ . }}
{{- end }}
{{- with $j.tokenTTL }}
- --join-token-ttl={{ . }}
{{- end }}
{{- with $j.rateLimit }}
- --join-rate-limit={{ . }}
{{- end }}
{{- with $j.burst }}
- --join-burst={{ . }}
{{- end }}
{{- if $j.tlsSecret }}
- --join-cert-file=/etc/kelp/join-tls/tls.crt
- --join-key-file=/etc/kelp/join-tls/tls.key
{{- end }}
{{- end }}
{{- end -}}
