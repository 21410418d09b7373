variable "name" {
  type        = string
  description = "Prefix of the IAM role name, e.g. \"knfn-dev\"."
}

variable "domain" {
  type        = string
  description = "Domain the functions are served under; the certificate covers it and *.<domain>."
}

variable "route53_zone_id" {
  type        = string
  description = "ID of the public Route 53 hosted zone that holds the domain (validation records and the wildcard record)."
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster name (Pod Identity association, external-dns TXT owner)."
}

variable "external_dns_chart_version" {
  type        = string
  description = "Version of the external-dns Helm chart (platform/versions.json charts.externalDns)."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}
