variable "name" {
  type        = string
  description = "Name of the VPC and prefix of its resources, e.g. \"knfn-dev\"."
}

variable "cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC, /16 to /20, e.g. \"10.40.0.0/16\". Subnets are carved from it."

  validation {
    condition     = can(cidrhost(var.cidr, 0)) && tonumber(split("/", var.cidr)[1]) >= 16 && tonumber(split("/", var.cidr)[1]) <= 20
    error_message = "The VPC CIDR must be a valid IPv4 CIDR with a prefix between /16 and /20, e.g. \"10.40.0.0/16\"."
  }
}

variable "az_count" {
  type        = number
  description = "Number of availability zones to spread subnets over: 2 or 3."

  validation {
    condition     = contains([2, 3], var.az_count)
    error_message = "The AZ count must be 2 or 3."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "true: one NAT gateway for the whole VPC (cheap, one AZ is a single point of failure); false: one NAT gateway per AZ."
}

variable "enable_flow_logs" {
  type        = bool
  description = "Send VPC flow logs (all traffic) to a KMS-encrypted CloudWatch log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the flow log group in days (a CloudWatch Logs retention value)."
}

variable "log_kms_key_arn" {
  type        = string
  description = "ARN of the customer KMS key that encrypts the flow log group."
}

variable "cluster_name" {
  type        = string
  description = "EKS cluster name, used for the subnet discovery tags of the load balancer controller."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
}

variable "enable_interface_endpoints" {
  type        = bool
  description = "Interface endpoints for ECR, STS and Secrets Manager (about $0.011 per endpoint per AZ per hour): worth it when their traffic would otherwise cost more in NAT data. The S3 gateway endpoint (free) is always there."
}
