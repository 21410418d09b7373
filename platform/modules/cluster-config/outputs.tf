output "storage_class" {
  description = "Name of the default StorageClass."
  value       = "gp3"
}

output "function_namespace" {
  description = "Namespace created for the function."
  value       = var.function_namespace
  depends_on  = [helm_release.this]
}
