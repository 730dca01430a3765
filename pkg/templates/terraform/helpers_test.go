package terraform

import "github.com/hashicorp/hcl/v2"

func hclInitial() hcl.Pos { return hcl.InitialPos }
