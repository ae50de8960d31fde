{{/* Name of the chart, or nameOverride. */}}
{{- define "espy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects: release name, plus the chart name unless the
release name already holds it. */}}
{{- define "espy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "espy.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "espy.labels" -}}
helm.sh/chart: {{ include "espy.chart" . }}
{{ include "espy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: espy
{{- end }}

{{/* Labels that select the pods; never change them between releases. */}}
{{- define "espy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "espy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "espy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "espy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "espy.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* True (non-empty) when objects go to a folder rather than S3. */}}
{{- define "espy.folderOutput" -}}
{{- if not (hasPrefix "s3://" .Values.config.output.root) }}true{{ end }}
{{- end }}

{{/* Pod grace period: explicit, or shutdown.grace_secs plus time for the kubelet's
SIGKILL margin; never at or below what espy needs to flush and commit. */}}
{{- define "espy.terminationGracePeriodSeconds" -}}
{{- $grace := int .Values.config.shutdown.grace_secs }}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds }}
{{- add $grace 15 }}
{{- else }}
{{- $explicit := int .Values.terminationGracePeriodSeconds }}
{{- if le $explicit $grace }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed config.shutdown.grace_secs (%d)" $explicit $grace) }}
{{- end }}
{{- $explicit }}
{{- end }}
{{- end }}

{{/* One TOML value: string, bool, integer, or an array of them. Helm reads every YAML
number as a float, so integers are converted back before printing. Strings go through
toJson, whose escapes are all valid in TOML basic strings. */}}
{{- define "espy.tomlValue" -}}
{{- $v := . }}
{{- if kindIs "string" $v }}
{{- toJson $v }}
{{- else if kindIs "bool" $v }}
{{- $v }}
{{- else if or (kindIs "float64" $v) (kindIs "int" $v) (kindIs "int64" $v) }}
{{- if ne (float64 (int64 $v)) (float64 $v) }}
{{- fail (printf "espy's configuration has no fractional numbers, got %v" $v) }}
{{- end }}
{{- int64 $v }}
{{- else if kindIs "slice" $v }}
{{- print "[" }}
{{- range $i, $e := $v }}{{ if $i }}, {{ end }}{{ include "espy.tomlValue" $e }}{{ end }}
{{- print "]" }}
{{- else }}
{{- fail (printf "cannot write %v (%s) into espy.toml" $v (kindOf $v)) }}
{{- end }}
{{- end }}

{{/* One TOML table and its sub-tables. Argument: dict "path" (dotted, already quoted)
"table" (map). Plain keys come first, then sub-tables, then arrays of tables, so that no
key lands in the wrong table. Null values are left out (espy's default applies). */}}
{{- define "espy.tomlTable" -}}
{{- $path := .path }}
{{- $table := .table }}
{{- printf "[%s]\n" $path }}
{{- range $k, $v := $table }}
{{- $isTableArray := and (kindIs "slice" $v) (gt (len $v) 0) (kindIs "map" (first $v)) }}
{{- if not (or (kindIs "invalid" $v) (kindIs "map" $v) $isTableArray) }}
{{- printf "%s = %s\n" (include "espy.tomlKey" $k) (include "espy.tomlValue" $v) }}
{{- end }}
{{- end }}
{{- range $k, $v := $table }}
{{- if kindIs "map" $v }}
{{- printf "\n" }}
{{- include "espy.tomlTable" (dict "path" (printf "%s.%s" $path (include "espy.tomlKey" $k)) "table" $v) }}
{{- end }}
{{- end }}
{{- range $k, $v := $table }}
{{- if and (kindIs "slice" $v) (gt (len $v) 0) (kindIs "map" (first $v)) }}
{{- range $entry := $v }}
{{- printf "\n[[%s.%s]]\n" $path (include "espy.tomlKey" $k) }}
{{- range $ek, $ev := $entry }}
{{- if not (kindIs "invalid" $ev) }}
{{- printf "%s = %s\n" (include "espy.tomlKey" $ek) (include "espy.tomlValue" $ev) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The whole espy.toml: values' `config` plus the metrics listen address. */}}
{{- define "espy.toml" -}}
{{- $config := deepCopy .Values.config }}
{{- $_ := set $config "metrics" (dict "listen" (printf "0.0.0.0:%d" (int .Values.metrics.port))) }}
{{- $out := "# Rendered by the espy Helm chart from its values; edit values, not this file.\n" }}
{{- range $section, $table := $config }}
{{- $out = printf "%s\n%s" $out (include "espy.tomlTable" (dict "path" (include "espy.tomlKey" $section) "table" $table)) }}
{{- end }}
{{- regexReplaceAll "\n\n\n+" $out "\n\n" }}
{{- end }}

{{/* Environment of the espy container: secrets by reference, then extraEnv. */}}
{{- define "espy.env" -}}
{{- with .Values.secrets.kafkaSaslPassword.existingSecret }}
- name: ESPY_KAFKA__OPTIONS__SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.kafkaSaslPassword.key }}
{{- end }}
{{- with .Values.secrets.s3Credentials.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.s3Credentials.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.s3Credentials.secretAccessKeyKey }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Refuses folder output outside the writable mount: the root filesystem is read-only. */}}
{{- define "espy.checkOutput" -}}
{{- if include "espy.folderOutput" . }}
{{- $root := clean .Values.config.output.root }}
{{- $mount := clean .Values.sharedFolder.mountPath }}
{{- if not (or (eq $root $mount) (hasPrefix (printf "%s/" $mount) $root)) }}
{{- fail (printf "config.output.root %q must be sharedFolder.mountPath %q or a folder under it: the container's root filesystem is read-only" .Values.config.output.root .Values.sharedFolder.mountPath) }}
{{- end }}
{{- end }}
{{- end }}

{{/* A TOML key: bare when it can be, quoted otherwise (librdkafka names hold dots). */}}
{{- define "espy.tomlKey" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}
