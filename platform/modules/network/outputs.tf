output "vpc_id" {
  description = "ID of the VPC."
  value       = module.vpc.vpc_id
}

output "vpc_cidr_block" {
  description = "CIDR of the VPC."
  value       = module.vpc.vpc_cidr_block
}

output "private_subnet_ids" {
  description = "Private subnet IDs, one per AZ (nodes and pods)."
  value       = module.vpc.private_subnets
}

output "public_subnet_ids" {
  description = "Public subnet IDs, one per AZ (NAT gateways and the NLB)."
  value       = module.vpc.public_subnets
}

output "azs" {
  description = "Availability zones in use."
  value       = local.azs
}

output "nat_gateway_count" {
  description = "Number of NAT gateways (1 in a single-NAT VPC, one per AZ otherwise)."
  value       = length(module.vpc.natgw_ids)
}

output "region" {
  description = "Region the VPC lives in."
  value       = data.aws_region.current.region
}
