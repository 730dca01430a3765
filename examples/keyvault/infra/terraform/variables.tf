variable "environment" {
  type    = string
  default = "prod"
}

variable "location" {
  type    = string
  default = "westeurope"
}

variable "app_principal_id" {
  type = string
}

variable "service_plan_id" {
  type = string
}

variable "api_token" {
  type      = string
  sensitive = true
}

# KV010: a secret-named variable without sensitive = true.
variable "reporting_db_password" {
  type        = string
  description = "Password of the reporting database."
}
