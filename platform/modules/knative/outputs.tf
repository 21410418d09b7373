output "version" {
  description = "Knative Serving release installed."
  value       = var.knative_version
}

output "domain" {
  description = "Domain the functions are served under."
  value       = var.domain
  depends_on  = [helm_release.serving]
}

output "url_template" {
  description = "How a service's public URL is formed."
  value       = "https://{service}-{namespace}.${var.domain}"
}
