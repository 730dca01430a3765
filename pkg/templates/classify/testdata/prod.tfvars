# production values
location           = "northeurope"
sql_admin_password = "Sup3rS3cret!"
vm_count           = 3
enable_backup      = true
nothing            = null
negative           = -1
api_token          = <<EOT
multi-line-token
EOT
settings = {
  tier     = "Premium"
  password = "nested-in-tfvars"
}
tags = ["a", "b"]
