package kvtest

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Content kinds of a mixed tree, as GenerateMixedTree counts them.
const (
	KindARMTemplate   = "arm-template" // deployment templates, including Bicep's compiled main.json
	KindARMParameters = "arm-parameters"
	KindBicep         = "bicep"
	KindBicepParam    = "bicepparam"
	KindTerraform     = "terraform"
	KindTFVars        = "tfvars"
	KindPipeline      = "pipeline"
	KindAppSettings   = "appsettings"
	KindLockFile      = "lockfile"   // package-lock.json, packages.lock.json
	KindOtherYAML     = "other-yaml" // Kubernetes manifests, docker-compose
	KindBad           = "planted"    // the badly kept files of BadProject
)

// KindStats counts the files and bytes of one content kind.
type KindStats struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// MixedStats describes a tree written by GenerateMixedTree.
type MixedStats struct {
	TreeStats
	Projects int
	ByKind   map[string]KindStats
}

// Kinds returns the kinds present, largest share of bytes first.
func (s MixedStats) Kinds() []string {
	kinds := make([]string, 0, len(s.ByKind))
	for k := range s.ByKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		a, b := s.ByKind[kinds[i]], s.ByKind[kinds[j]]
		if a.Bytes != b.Bytes {
			return a.Bytes > b.Bytes
		}
		return kinds[i] < kinds[j]
	})
	return kinds
}

type kindFile struct {
	File
	kind string
}

// Mix says how many of every Terraform+Bicep+ARM+App projects of a tree are of each
// archetype. The default is a monorepo of platform teams mostly on Terraform or Bicep, older
// ARM deployments, and application folders carrying their settings, lock files and manifests
// next to their pipelines.
type Mix struct {
	Terraform, Bicep, ARM, App int
}

// DefaultMix is 7 Terraform, 6 Bicep, 4 ARM and 3 application projects in 20: about a quarter
// of the bytes Terraform, a third ARM JSON, the rest Bicep, pipelines, lock files and settings.
func DefaultMix() Mix { return Mix{Terraform: 7, Bicep: 6, ARM: 4, App: 3} }

func (m Mix) String() string {
	return fmt.Sprintf("terraform=%d,bicep=%d,arm=%d,app=%d", m.Terraform, m.Bicep, m.ARM, m.App)
}

// ParseMix reads "terraform=7,bicep=6,arm=4,app=3" (archetypes left out get 0) or "default".
func ParseMix(s string) (Mix, error) {
	if strings.TrimSpace(s) == "" || strings.EqualFold(strings.TrimSpace(s), "default") {
		return DefaultMix(), nil
	}
	var m Mix
	for _, item := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if !ok || err != nil || n < 0 || n > 1000 {
			return Mix{}, fmt.Errorf("mix %q: %q is not archetype=count with a count from 0 to 1000", s, item)
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "terraform":
			m.Terraform = n
		case "bicep":
			m.Bicep = n
		case "arm":
			m.ARM = n
		case "app":
			m.App = n
		default:
			return Mix{}, fmt.Errorf("mix %q: unknown archetype %q (want terraform, bicep, arm or app)", s, name)
		}
	}
	if m.Terraform+m.Bicep+m.ARM+m.App == 0 {
		return Mix{}, fmt.Errorf("mix %q: every count is 0", s)
	}
	return m, nil
}

type archetype struct {
	name   string
	weight int
	build  func(g *gen, prefix string) []kindFile
}

// order spreads the archetypes over a cycle of Terraform+Bicep+ARM+App projects in proportion
// to their weights (smooth weighted round robin), so any prefix of a tree has the mix's
// proportions.
func (m Mix) order() []archetype {
	kinds := []archetype{
		{"terraform", m.Terraform, (*gen).terraformProject},
		{"bicep", m.Bicep, (*gen).bicepProject},
		{"arm", m.ARM, (*gen).armProject},
		{"app", m.App, (*gen).appProject},
	}
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	current := make([]int, len(kinds))
	out := make([]archetype, 0, total)
	for range total {
		best := -1
		for i, k := range kinds {
			current[i] += k.weight
			if k.weight > 0 && (best < 0 || current[i] > current[best]) {
				best = i
			}
		}
		current[best] -= total
		out = append(out, kinds[best])
	}
	return out
}

// MixOptions configure GenerateMixedTree.
type MixOptions struct {
	// Seed chooses the tree: the same seed, size and mix give the same files.
	Seed uint64
	// Findings plants the files of BadProject in one project of 25.
	Findings bool
	// Mix is the share of each project archetype; the zero Mix is DefaultMix.
	Mix Mix
}

// GenerateMixedTree writes at least targetBytes of realistic infrastructure-as-code under dir,
// deterministically: one folder per project, each a Terraform, Bicep, ARM or application
// project (see Mix) with its pipelines, its files in real-world sizes (ARM templates of 3-140
// KB, Bicep modules, Terraform modules with variables and outputs, per-environment parameter,
// .bicepparam and .tfvars files, multi-stage pipelines, app settings, lock files, Kubernetes
// manifests). Every secret in them comes from Key Vault, so they produce no findings; with
// opt.Findings, TreeStats.Findings is the number of findings the planted files must produce.
func GenerateMixedTree(ctx context.Context, dir string, targetBytes int64, opt MixOptions) (MixedStats, error) {
	st := MixedStats{ByKind: map[string]KindStats{}}
	if opt.Mix == (Mix{}) {
		opt.Mix = DefaultMix()
	}
	if opt.Mix.Terraform < 0 || opt.Mix.Bicep < 0 || opt.Mix.ARM < 0 || opt.Mix.App < 0 {
		return st, fmt.Errorf("generate %s: negative count in mix %s", dir, opt.Mix)
	}
	order := opt.Mix.order()
	for i := 0; st.Bytes < targetBytes; i++ {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("generate %s: %w", dir, err)
		}
		pseed := opt.Seed*1_000_003 + uint64(i)
		g := newGen(pseed)
		a := order[(i+int(opt.Seed%uint64(len(order))))%len(order)]
		prefix := fmt.Sprintf("%s-%04d/", a.name, i)
		files := a.build(g, prefix)
		if opt.Findings && i%25 == 0 {
			bad, n := BadProject(pseed)
			for _, b := range bad {
				b.Path = prefix + b.Path
				files = append(files, kindFile{b, KindBad})
			}
			st.Findings += n
		}
		seen := make(map[string]bool, len(files))
		for _, f := range files {
			if seen[f.Path] {
				return st, fmt.Errorf("generate %s: %s generated twice", dir, f.Path)
			}
			seen[f.Path] = true
			p := filepath.Join(dir, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return st, fmt.Errorf("generate %s: %w", f.Path, err)
			}
			if err := os.WriteFile(p, []byte(f.Content), 0o644); err != nil {
				return st, fmt.Errorf("generate %s: %w", f.Path, err)
			}
			ks := st.ByKind[f.kind]
			ks.Files++
			ks.Bytes += int64(len(f.Content))
			st.ByKind[f.kind] = ks
			st.Files++
			st.Bytes += int64(len(f.Content))
		}
		st.Projects++
	}
	return st, nil
}

func (g *gen) envs() []string {
	if g.r.IntN(3) == 0 {
		return []string{"dev", "prod"}
	}
	return []string{"dev", "test", "prod"}
}

// terraformProject is a root module per environment over shared modules.
func (g *gen) terraformProject(prefix string) []kindFile {
	envs := g.envs()
	files := []kindFile{
		{File{"modules/network/main.tf", g.tfNetwork(4+g.r.IntN(8), 6+g.r.IntN(24))}, KindTerraform},
		{File{"modules/network/variables.tf", g.tfVariables("network", 6+g.r.IntN(6))}, KindTerraform},
		{File{"modules/network/outputs.tf", g.tfOutputs("azurerm_virtual_network.this", 3+g.r.IntN(4))}, KindTerraform},
		{File{"modules/app/main.tf", g.terraform()}, KindTerraform},
		{File{"modules/app/variables.tf", g.tfVariables("app", 8+g.r.IntN(10))}, KindTerraform},
		{File{"modules/app/outputs.tf", g.tfOutputs("azurerm_linux_function_app.fn", 2+g.r.IntN(4))}, KindTerraform},
	}
	for _, env := range envs {
		files = append(files,
			kindFile{File{"envs/" + env + "/main.tf", g.tfRoot(env)}, KindTerraform},
			kindFile{File{"envs/" + env + "/terraform.tfvars", g.tfvarsEnv(env)}, KindTFVars},
		)
	}
	files = append(files,
		kindFile{File{"pipelines/terraform.yml", g.tfPipeline(envs, prefix)}, KindPipeline},
		kindFile{File{"pipelines/templates/validate.yml", g.stepsTemplate(prefix + "modules/app/main.tf")}, KindPipeline},
	)
	return withPrefix(prefix, files)
}

// bicepProject is AVM-style modules (with their compiled main.json), a main template and
// per-environment .bicepparam files.
func (g *gen) bicepProject(prefix string) []kindFile {
	envs := g.envs()
	files := []kindFile{
		{File{"infra/bicep/modules/key-vault/main.bicep", g.bicepModule()}, KindBicep},
		{File{"infra/bicep/modules/key-vault/main.json", g.armCompiled()}, KindARMTemplate},
		{File{"infra/bicep/modules/sql.bicep", g.bicepSQL()}, KindBicep},
		{File{"infra/bicep/modules/storage.bicep", g.bicepStorageModule()}, KindBicep},
		{File{"infra/bicep/modules/network.bicep", g.bicepNetwork(3+g.r.IntN(8), 6+g.r.IntN(20))}, KindBicep},
		{File{"infra/bicep/main.bicep", g.bicepMain()}, KindBicep},
		{File{"infra/bicep/main.bicepparam", g.bicepParam()}, KindBicepParam},
		{File{"infra/bicep/app.bicep", g.bicepApp()}, KindBicep},
		{File{"infra/bicep/app.prod.bicepparam", g.bicepAppParam()}, KindBicepParam},
	}
	for _, env := range envs {
		files = append(files, kindFile{File{"infra/bicep/main." + env + ".bicepparam", g.bicepParam()}, KindBicepParam})
	}
	if g.r.IntN(3) == 0 {
		files = append(files, kindFile{File{"infra/bicep/modules/network/main.json", g.armNetwork(3+g.r.IntN(6), 8+g.r.IntN(24))}, KindARMTemplate})
	}
	files = append(files,
		kindFile{File{"pipelines/deploy.yml", g.pipeline([]string{"infra/bicep/modules/key-vault/main.json"}, prefix)}, KindPipeline},
		kindFile{File{"pipelines/templates/validate.yml", g.stepsTemplate(prefix + "infra/bicep/main.bicep")}, KindPipeline},
	)
	return withPrefix(prefix, files)
}

// armProject is hand-written ARM templates with per-environment parameters files.
func (g *gen) armProject(prefix string) []kindFile {
	envs := g.envs()
	templates := []string{"templates/storage.json", "templates/vm.json", "templates/webapp.json"}
	files := []kindFile{
		{File{templates[0], g.armStorage()}, KindARMTemplate},
		{File{templates[1], g.armVM()}, KindARMTemplate},
		{File{templates[2], g.armWebApp()}, KindARMTemplate},
		{File{"templates/network.json", g.armNetwork(3+g.r.IntN(6), 8+g.r.IntN(24))}, KindARMTemplate},
		{File{"templates/platform.json", g.armCompiled()}, KindARMTemplate},
	}
	for _, env := range envs {
		files = append(files,
			kindFile{File{"templates/storage.parameters." + env + ".json", g.armParams("keyVaultResourceId")}, KindARMParameters},
			kindFile{File{"templates/vm.parameters." + env + ".json", g.armParams("adminPasswordOrKey")}, KindARMParameters},
			kindFile{File{"templates/webapp.parameters." + env + ".json", g.armParams("sqlAdministratorLoginPassword")}, KindARMParameters},
		)
	}
	files = append(files,
		kindFile{File{"pipelines/deploy.yml", g.pipeline(templates, prefix)}, KindPipeline},
		kindFile{File{"pipelines/templates/validate.yml", g.stepsTemplate(prefix + templates[0])}, KindPipeline},
	)
	// The pipeline also deploys infra/bicep/main.bicep: the project is moving to Bicep.
	files = append(files, g.bicepMainFiles()...)
	return withPrefix(prefix, files)
}

// appProject is services with their settings, lock files, manifests and pipelines.
func (g *gen) appProject(prefix string) []kindFile {
	var files []kindFile
	seen := map[string]bool{}
	for i := 0; i < 1+g.r.IntN(3); i++ {
		w := g.word()
		svc := fmt.Sprintf("src/%s.%s", strings.ToUpper(w[:1])+w[1:], g.pick("Api", "Worker", "Web", "Functions"))
		if seen[svc] {
			continue
		}
		seen[svc] = true
		files = append(files,
			kindFile{File{svc + "/appsettings.json", g.appSettings()}, KindAppSettings},
			kindFile{File{svc + "/appsettings.Development.json", g.appSettings()}, KindAppSettings},
			kindFile{File{svc + "/appsettings.Production.json", g.appSettings()}, KindAppSettings},
			kindFile{File{svc + "/packages.lock.json", g.nugetLock(20 + g.r.IntN(120))}, KindLockFile},
		)
	}
	files = append(files,
		kindFile{File{"web/package-lock.json", g.npmLock(50 + g.r.IntN(250))}, KindLockFile},
		kindFile{File{"deploy/k8s/deployment.yaml", g.k8s()}, KindOtherYAML},
		kindFile{File{"docker-compose.yml", g.compose()}, KindOtherYAML},
		kindFile{File{"infra/bicep/app.bicep", g.bicepApp()}, KindBicep},
		kindFile{File{"infra/bicep/app.prod.bicepparam", g.bicepAppParam()}, KindBicepParam},
		kindFile{File{"pipelines/build.yml", g.pipeline(nil, prefix)}, KindPipeline},
	)
	files = append(files, g.bicepMainFiles()...)
	return withPrefix(prefix, files)
}

// bicepMainFiles are the Bicep deployment that pipeline() deploys with the Azure CLI.
func (g *gen) bicepMainFiles() []kindFile {
	return []kindFile{
		{File{"infra/bicep/main.bicep", g.bicepMain()}, KindBicep},
		{File{"infra/bicep/main.bicepparam", g.bicepParam()}, KindBicepParam},
		{File{"infra/bicep/modules/sql.bicep", g.bicepSQL()}, KindBicep},
		{File{"infra/bicep/modules/storage.bicep", g.bicepStorageModule()}, KindBicep},
	}
}

func withPrefix(prefix string, files []kindFile) []kindFile {
	for i := range files {
		files[i].Path = prefix + files[i].Path
	}
	return files
}

// tfNetwork is a hub network module: address space, subnets with delegations and service
// endpoints, one NSG per subnet with its rules, route table and private DNS zones.
func (g *gen) tfNetwork(subnets, rules int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `locals {
  subnet_names = [%s]
  common_tags = merge(var.tags, {
    module      = "network"
    environment = var.environment
    costCenter  = "%d"
  })
}

resource "azurerm_resource_group" "network" {
  name     = "rg-${var.name}-network-${var.environment}"
  location = var.location
  tags     = local.common_tags
}

resource "azurerm_virtual_network" "this" {
  name                = "vnet-${var.name}-${var.environment}"
  location            = azurerm_resource_group.network.location
  resource_group_name = azurerm_resource_group.network.name
  address_space       = [var.address_space]
  dns_servers         = var.dns_servers
  tags                = local.common_tags
}

resource "azurerm_route_table" "this" {
  name                          = "rt-${var.name}-${var.environment}"
  location                      = azurerm_resource_group.network.location
  resource_group_name           = azurerm_resource_group.network.name
  bgp_route_propagation_enabled = false

  route {
    name                   = "default-to-firewall"
    address_prefix         = "0.0.0.0/0"
    next_hop_type          = "VirtualAppliance"
    next_hop_in_ip_address = var.firewall_private_ip
  }
}
`, quotedList(g.subnetNames(subnets)), 1000+g.r.IntN(9000))
	for i, sn := range g.subnetNames(subnets) {
		fmt.Fprintf(&b, `
resource "azurerm_subnet" "%s" {
  name                 = "snet-%s"
  resource_group_name  = azurerm_resource_group.network.name
  virtual_network_name = azurerm_virtual_network.this.name
  address_prefixes     = [cidrsubnet(var.address_space, 8, %d)]
  service_endpoints    = ["Microsoft.KeyVault", "Microsoft.Storage", "Microsoft.Sql"]
%s}

resource "azurerm_network_security_group" "%s" {
  name                = "nsg-%s-${var.environment}"
  location            = azurerm_resource_group.network.location
  resource_group_name = azurerm_resource_group.network.name
  tags                = local.common_tags
`, sn, sn, i, g.tfDelegation(), sn, sn)
		for r := 0; r < rules; r++ {
			fmt.Fprintf(&b, `
  security_rule {
    name                       = "%s-%s-%d"
    priority                   = %d
    direction                  = "%s"
    access                     = "%s"
    protocol                   = "%s"
    source_port_range          = "*"
    destination_port_range     = "%s"
    source_address_prefix      = "10.%d.%d.0/24"
    destination_address_prefix = "VirtualNetwork"
  }
`, g.pick("allow", "deny"), g.word(), r, 100+10*r, g.pick("Inbound", "Outbound"), g.pick("Allow", "Deny"), g.pick("Tcp", "Udp", "*"), g.pick("443", "1433", "5432", "6379", "8080", "22"), g.r.IntN(255), g.r.IntN(255))
		}
		fmt.Fprintf(&b, `}

resource "azurerm_subnet_network_security_group_association" "%s" {
  subnet_id                 = azurerm_subnet.%s.id
  network_security_group_id = azurerm_network_security_group.%s.id
}
`, sn, sn, sn)
	}
	for _, zone := range []string{"privatelink.vaultcore.azure.net", "privatelink.blob.core.windows.net", "privatelink.database.windows.net"} {
		id := strings.ReplaceAll(strings.TrimPrefix(zone, "privatelink."), ".", "_")
		fmt.Fprintf(&b, `
resource "azurerm_private_dns_zone" "%s" {
  name                = "%s"
  resource_group_name = azurerm_resource_group.network.name
}

resource "azurerm_private_dns_zone_virtual_network_link" "%s" {
  name                  = "link-%s"
  resource_group_name   = azurerm_resource_group.network.name
  private_dns_zone_name = azurerm_private_dns_zone.%s.name
  virtual_network_id    = azurerm_virtual_network.this.id
  registration_enabled  = false
}
`, id, zone, id, id, id)
	}
	return b.String()
}

func (g *gen) subnetNames(n int) []string {
	base := []string{"app", "data", "web", "aks", "pe", "mgmt", "bastion", "gateway", "func", "integration", "db", "cache", "search", "batch"}
	return base[:min(n, len(base))]
}

func (g *gen) tfDelegation() string {
	if g.r.IntN(3) != 0 {
		return ""
	}
	return `
  delegation {
    name = "webapp"
    service_delegation {
      name    = "Microsoft.Web/serverFarms"
      actions = ["Microsoft.Network/virtualNetworks/subnets/action"]
    }
  }
`
}

func quotedList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = `"` + x + `"`
	}
	return strings.Join(q, ", ")
}

// tfVariables declares a module's inputs: typed, described, validated, and secret ones
// sensitive without a default.
func (g *gen) tfVariables(module string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `variable "name" {
  type        = string
  description = "Workload name used in every %s resource name."
  validation {
    condition     = can(regex("^[a-z0-9-]{3,20}$", var.name))
    error_message = "The name must be 3-20 lower-case letters, digits or hyphens."
  }
}

variable "environment" {
  type        = string
  description = "Deployment environment."
  validation {
    condition     = contains(["dev", "test", "prod"], var.environment)
    error_message = "The environment must be dev, test or prod."
  }
}

variable "location" {
  type    = string
  default = "%s"
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "address_space" {
  type    = string
  default = "10.%d.0.0/16"
}

variable "dns_servers" {
  type    = list(string)
  default = []
}

variable "firewall_private_ip" {
  type    = string
  default = "10.%d.0.4"
}

variable "key_vault_name" {
  type        = string
  description = "Key Vault holding the secrets of the %s module."
}

variable "sql_admin_password" {
  type        = string
  description = "Read from Key Vault by the pipeline."
  sensitive   = true
}
`, module, g.pick("westeurope", "northeurope", "swedencentral"), g.r.IntN(255), g.r.IntN(255), module)
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, `
variable "tier_%d_sku" {
  type        = string
  description = "SKU of the %s %s tier %d."
  default     = "%s"
}
`, i, module, g.word(), i, g.pick("Standard", "Premium", "Basic", "P1v3", "S1"))
		case 1:
			fmt.Fprintf(&b, `
variable "diagnostics_%d" {
  type = object({
    enabled        = bool
    retention_days = number
    tier           = optional(string, "Standard")
    ip_rules       = optional(list(string), [])
  })
  default = {
    enabled        = true
    retention_days = %d
  }
}
`, i, 7+g.r.IntN(358))
		default:
			fmt.Fprintf(&b, `
variable "worker_capacity_%d" {
  type        = number
  description = "Instance count of the %s workers."
  default     = %d
  validation {
    condition     = var.worker_capacity_%d >= 1
    error_message = "Capacity must be at least 1."
  }
}
`, i, g.word(), 1+g.r.IntN(10), i)
		}
	}
	return b.String()
}

// tfOutputs exposes ids and names, never secrets.
func (g *gen) tfOutputs(resource string, n int) string {
	var b strings.Builder
	for _, attr := range []string{"id", "name", "location", "resource_group_name", "tags", "identity"}[:min(n, 6)] {
		fmt.Fprintf(&b, `output "%s" {
  description = "The %s of %s."
  value       = %s.%s
}

`, attr, strings.ReplaceAll(attr, "_", " "), resource, resource, attr)
	}
	return b.String()
}

// tfRoot is an environment's root module: backend, providers, Key Vault data sources and
// module calls.
func (g *gen) tfRoot(env string) string {
	return fmt.Sprintf(`terraform {
  required_version = ">= 1.6"
  required_providers {
    azurerm = { source = "hashicorp/azurerm", version = "~> 3.110" }
  }
  backend "azurerm" {
    resource_group_name  = "rg-tfstate"
    storage_account_name = "sttfstate%s"
    container_name       = "tfstate"
    key                  = "%s.terraform.tfstate"
    use_azuread_auth     = true
  }
}

provider "azurerm" {
  features {
    key_vault {
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }
  }
  subscription_id = "%s"
  use_oidc        = true
}

data "azurerm_key_vault" "platform" {
  name                = "kv-%s-%s"
  resource_group_name = "rg-%s-security"
}

data "azurerm_key_vault_secret" "sql_admin_password" {
  name         = "sql-admin-password"
  key_vault_id = data.azurerm_key_vault.platform.id
}

module "network" {
  source        = "../../modules/network"
  name          = "%s"
  environment   = "%s"
  location      = var.location
  address_space = "10.%d.0.0/16"
  tags          = var.tags
  key_vault_name     = data.azurerm_key_vault.platform.name
  sql_admin_password = data.azurerm_key_vault_secret.sql_admin_password.value
}

module "app" {
  source             = "../../modules/app"
  name               = "%s"
  environment        = "%s"
  key_vault_name     = data.azurerm_key_vault.platform.name
  sql_admin_password = data.azurerm_key_vault_secret.sql_admin_password.value
  depends_on         = [module.network]
}

variable "location" {
  type    = string
  default = "westeurope"
}

variable "tags" {
  type    = map(string)
  default = {}
}
`, g.hex(6), env, g.guid(), g.word(), env, g.word(), g.word(), env, g.r.IntN(255), g.word(), env)
}

// tfvarsEnv is an environment's variable values: maps, lists, numbers and flags, no secrets.
func (g *gen) tfvarsEnv(env string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "location = \"%s\"\nsecret_rotation_days = %d\nenable_diagnostics = %v\n\ntags = {\n  environment = \"%s\"\n  owner       = \"team-%s\"\n  costCenter  = \"%d\"\n}\n\nsubnets = {\n",
		g.pick("westeurope", "northeurope"), 30+g.r.IntN(300), g.r.IntN(2) == 0, env, g.word(), 1000+g.r.IntN(9000))
	for i, sn := range g.subnetNames(3 + g.r.IntN(8)) {
		fmt.Fprintf(&b, "  %s = { prefix = \"10.%d.%d.0/24\", endpoints = [\"Microsoft.KeyVault\"] }\n", sn, g.r.IntN(255), i)
	}
	b.WriteString("}\n\nallowed_ip_ranges = [\n")
	for i := 0; i < 2+g.r.IntN(6); i++ {
		fmt.Fprintf(&b, "  \"%d.%d.%d.0/24\",\n", 20+g.r.IntN(200), g.r.IntN(255), g.r.IntN(255))
	}
	b.WriteString("]\n")
	return b.String()
}

// tfPipeline plans each environment with the secrets read from Key Vault, then applies it in
// a deployment job.
func (g *gen) tfPipeline(envs []string, prefix string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `trigger:
  branches:
    include: [ main ]
  paths:
    include: [ %senvs/*, %smodules/* ]

pool:
  vmImage: ubuntu-latest

variables:
  - group: tf-%s-keyvault
  - name: tfVersion
    value: 1.8.5
  - name: backendServiceConnection
    value: sc-%s-tfstate

stages:
`, prefix, prefix, g.word(), g.word())
	for i, env := range envs {
		fmt.Fprintf(&b, `  - stage: plan_%s
    dependsOn: [ %s ]
    jobs:
      - job: plan
        steps:
          - checkout: self
          - task: AzureKeyVault@2
            displayName: Read secrets
            inputs:
              azureSubscription: sc-%s-%s
              KeyVaultName: kv-%s-%s
              SecretsFilter: 'sql-admin-password'
              RunAsPreJob: false
          - task: TerraformInstaller@1
            inputs:
              terraformVersion: $(tfVersion)
          - task: TerraformTaskV4@4
            displayName: terraform init
            inputs:
              provider: azurerm
              command: init
              workingDirectory: $(System.DefaultWorkingDirectory)/%senvs/%s
              backendServiceArm: $(backendServiceConnection)
              backendAzureRmResourceGroupName: rg-tfstate
              backendAzureRmStorageAccountName: sttfstate%s
              backendAzureRmContainerName: tfstate
              backendAzureRmKey: %s.terraform.tfstate
          - task: TerraformTaskV4@4
            displayName: terraform plan
            inputs:
              provider: azurerm
              command: plan
              workingDirectory: $(System.DefaultWorkingDirectory)/%senvs/%s
              commandOptions: -out=tfplan -input=false
              environmentServiceNameAzureRM: sc-%s-%s
            env:
              TF_VAR_sql_admin_password: $(sql-admin-password)
              ARM_CLIENT_ID: %s
          - publish: $(System.DefaultWorkingDirectory)/%senvs/%s/tfplan
            artifact: tfplan-%s
  - stage: apply_%s
    dependsOn: [ plan_%s ]
    jobs:
      - deployment: apply
        environment: %s
        strategy:
          runOnce:
            deploy:
              steps:
                - download: current
                  artifact: tfplan-%s
                - task: TerraformTaskV4@4
                  displayName: terraform apply
                  inputs:
                    provider: azurerm
                    command: apply
                    commandOptions: $(Pipeline.Workspace)/tfplan-%s/tfplan
                    environmentServiceNameAzureRM: sc-%s-%s
`, env, prevPlan(i, envs), g.word(), env, g.word(), env, prefix, env, g.hex(6), env, prefix, env, g.word(), env, g.guid(), prefix, env, env, env, env, env, env, env, g.word(), env)
	}
	return b.String()
}

func prevPlan(i int, envs []string) string {
	if i == 0 {
		return ""
	}
	return "apply_" + envs[i-1]
}

// bicepNetwork is a virtual network module with per-subnet NSGs and their rules.
func (g *gen) bicepNetwork(subnets, rules int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `@description('Workload name.')
param name string

@description('Azure region.')
param location string = resourceGroup().location

@description('Address space of the virtual network.')
param addressPrefix string = '10.%d.0.0/16'

@description('Tags applied to every resource.')
param tags object = {}

var subnetNames = [
`, g.r.IntN(255))
	names := g.subnetNames(subnets)
	for _, sn := range names {
		fmt.Fprintf(&b, "  '%s'\n", sn)
	}
	b.WriteString("]\n")
	for _, sn := range names {
		fmt.Fprintf(&b, `
resource nsg_%s 'Microsoft.Network/networkSecurityGroups@2023-09-01' = {
  name: 'nsg-${name}-%s'
  location: location
  tags: tags
  properties: {
    securityRules: [
`, sn, sn)
		for r := 0; r < rules; r++ {
			fmt.Fprintf(&b, `      {
        name: '%s-%s-%d'
        properties: {
          priority: %d
          direction: '%s'
          access: '%s'
          protocol: '%s'
          sourcePortRange: '*'
          destinationPortRange: '%s'
          sourceAddressPrefix: '10.%d.%d.0/24'
          destinationAddressPrefix: 'VirtualNetwork'
        }
      }
`, g.pick("allow", "deny"), g.word(), r, 100+10*r, g.pick("Inbound", "Outbound"), g.pick("Allow", "Deny"), g.pick("Tcp", "Udp", "*"), g.pick("443", "1433", "5432", "6379", "8080"), g.r.IntN(255), g.r.IntN(255))
		}
		b.WriteString("    ]\n  }\n}\n")
	}
	b.WriteString(`
resource vnet 'Microsoft.Network/virtualNetworks@2023-09-01' = {
  name: 'vnet-${name}'
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [ addressPrefix ] }
    subnets: [
`)
	for i, sn := range names {
		fmt.Fprintf(&b, `      {
        name: 'snet-%s'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, %d)
          networkSecurityGroup: { id: nsg_%s.id }
          serviceEndpoints: [ { service: 'Microsoft.KeyVault' }, { service: 'Microsoft.Storage' } ]
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
`, sn, i, sn)
	}
	b.WriteString(`    ]
  }
}

output vnetId string = vnet.id
output subnetIds array = [for (s, i) in subnetNames: vnet.properties.subnets[i].id]
`)
	return b.String()
}

// armNetwork is a hand-written (or exported) network template: NSGs with many rules, a virtual
// network with its subnets, and diagnostic settings. Such templates reach hundreds of KB.
func (g *gen) armNetwork(subnets, rules int) string {
	names := g.subnetNames(subnets)
	var res []string
	for _, sn := range names {
		var rs []string
		for r := 0; r < rules; r++ {
			rs = append(rs, fmt.Sprintf(`          {
            "name": "%s-%s-%d",
            "properties": {
              "priority": %d,
              "direction": "%s",
              "access": "%s",
              "protocol": "%s",
              "sourcePortRange": "*",
              "destinationPortRange": "%s",
              "sourceAddressPrefix": "10.%d.%d.0/24",
              "destinationAddressPrefix": "VirtualNetwork",
              "description": "Rule %d of the %s subnet, reviewed by the %s team."
            }
          }`, g.pick("allow", "deny"), g.word(), r, 100+10*r, g.pick("Inbound", "Outbound"), g.pick("Allow", "Deny"), g.pick("Tcp", "Udp", "*"), g.pick("443", "1433", "5432", "6379", "8080"), g.r.IntN(255), g.r.IntN(255), r, sn, g.word()))
		}
		res = append(res, fmt.Sprintf(`    {
      "type": "Microsoft.Network/networkSecurityGroups",
      "apiVersion": "2023-09-01",
      "name": "[format('nsg-{0}-%s', parameters('name'))]",
      "location": "[parameters('location')]",
      "tags": "[parameters('tags')]",
      "properties": {
        "securityRules": [
%s
        ]
      }
    },
    {
      "type": "Microsoft.Insights/diagnosticSettings",
      "apiVersion": "2021-05-01-preview",
      "scope": "[format('Microsoft.Network/networkSecurityGroups/{0}', format('nsg-{0}-%s', parameters('name')))]",
      "name": "diag-%s",
      "properties": {
        "workspaceId": "[parameters('logAnalyticsWorkspaceId')]",
        "logs": [ { "categoryGroup": "allLogs", "enabled": true } ]
      },
      "dependsOn": [ "[resourceId('Microsoft.Network/networkSecurityGroups', format('nsg-{0}-%s', parameters('name')))]" ]
    }`, sn, strings.Join(rs, ",\n"), sn, sn, sn))
	}
	var sns, deps []string
	for i, sn := range names {
		sns = append(sns, fmt.Sprintf(`          {
            "name": "snet-%s",
            "properties": {
              "addressPrefix": "[cidrSubnet(parameters('addressPrefix'), 24, %d)]",
              "networkSecurityGroup": { "id": "[resourceId('Microsoft.Network/networkSecurityGroups', format('nsg-{0}-%s', parameters('name')))]" },
              "serviceEndpoints": [ { "service": "Microsoft.KeyVault" }, { "service": "Microsoft.Storage" } ],
              "privateEndpointNetworkPolicies": "Disabled"
            }
          }`, sn, i, sn))
		deps = append(deps, fmt.Sprintf(`"[resourceId('Microsoft.Network/networkSecurityGroups', format('nsg-{0}-%s', parameters('name')))]"`, sn))
	}
	res = append(res, fmt.Sprintf(`    {
      "type": "Microsoft.Network/virtualNetworks",
      "apiVersion": "2023-09-01",
      "name": "[format('vnet-{0}', parameters('name'))]",
      "location": "[parameters('location')]",
      "tags": "[parameters('tags')]",
      "properties": {
        "addressSpace": { "addressPrefixes": [ "[parameters('addressPrefix')]" ] },
        "subnets": [
%s
        ]
      },
      "dependsOn": [ %s ]
    }`, strings.Join(sns, ",\n"), strings.Join(deps, ", ")))
	return fmt.Sprintf(`{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "metadata": { "_generator": { "name": "bicep", "version": "0.28.1.47646", "templateHash": "%d" } },
  "parameters": {
    "name": { "type": "string", "metadata": { "description": "Workload name." } },
    "location": { "type": "string", "defaultValue": "[resourceGroup().location]" },
    "addressPrefix": { "type": "string", "defaultValue": "10.%d.0.0/16" },
    "logAnalyticsWorkspaceId": { "type": "string" },
    "tags": { "type": "object", "defaultValue": {} }
  },
  "resources": [
%s
  ],
  "outputs": {
    "vnetId": { "type": "string", "value": "[resourceId('Microsoft.Network/virtualNetworks', format('vnet-{0}', parameters('name')))]" }
  }
}
`, g.r.Uint64(), g.r.IntN(255), strings.Join(res, ",\n"))
}

// stepsTemplate is a step template with typed parameters that lints and validates a deployment
// file, its secrets read from Key Vault by the caller.
func (g *gen) stepsTemplate(file string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `parameters:
  - name: serviceConnection
    type: string
  - name: environment
    type: string
    default: dev
    values: [ dev, test, prod ]
  - name: runWhatIf
    type: boolean
    default: true
  - name: extraSteps
    type: stepList
    default: []

steps:
  - checkout: self
    fetchDepth: 1
  - task: AzureCLI@2
    displayName: Lint %s
    inputs:
      azureSubscription: ${{ parameters.serviceConnection }}
      scriptType: bash
      scriptLocation: inlineScript
      inlineScript: |
        set -euo pipefail
        echo "Validating %s for ${{ parameters.environment }}"
%s
  - ${{ if eq(parameters.runWhatIf, true) }}:
    - task: AzureCLI@2
      displayName: What-if
      inputs:
        azureSubscription: ${{ parameters.serviceConnection }}
        scriptType: pscore
        scriptLocation: inlineScript
        inlineScript: |
          $ErrorActionPreference = 'Stop'
          Write-Host "What-if for ${{ parameters.environment }}"
      env:
        AZURE_CORE_OUTPUT: jsonc
        DEPLOYMENT_NAME: whatif-$(Build.BuildId)
  - ${{ each step in parameters.extraSteps }}:
    - ${{ step }}
`, file, file, g.validateScript(file))
	for i := 0; i < 2+g.r.IntN(6); i++ {
		fmt.Fprintf(&b, `  - script: |
      echo "check %d of %s"
      ./scripts/check-%s.sh --strict --env ${{ parameters.environment }}
    displayName: Policy check %d (%s)
    condition: succeeded()
    env:
      CHECK_NAME: %s-%d
`, i, file, g.word(), i, g.word(), g.word(), i)
	}
	return b.String()
}

// validateScript is the lint command of stepsTemplate for a Terraform or ARM/Bicep file.
func (g *gen) validateScript(file string) string {
	if strings.HasSuffix(file, ".tf") {
		dir := path.Dir(file)
		return fmt.Sprintf(`        terraform -chdir=%s init -backend=false -input=false
        terraform -chdir=%s validate -no-color
        terraform fmt -check -recursive %s`, dir, dir, dir)
	}
	return fmt.Sprintf(`        az bicep install
        az deployment group validate \
          --resource-group rg-%s-${{ parameters.environment }} \
          --template-file %s \
          --parameters environmentName=${{ parameters.environment }}`, g.word(), file)
}

// AllowedVaults returns every vault name the clean generators use (kv-<word>-<environment>
// and kv-<word>-dr), for an allowedVaults input under which a generated tree keeps only its
// planted findings plus the warnings for vaults computed at deployment time.
func AllowedVaults() []string {
	words := []string{"app", "web", "api", "data", "core", "ops", "shop", "pay", "auth", "search", "media", "hub"}
	var out []string
	for _, w := range words {
		for _, env := range []string{"dev", "test", "prod", "dr"} {
			out = append(out, "kv-"+w+"-"+env)
		}
	}
	return out
}

// ParseSize reads a byte count with an optional unit: B, KB, MB, GB (powers of 1000) or KiB,
// MiB, GiB (powers of 1024), case-insensitive.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := len(t)
	for i > 0 && (t[i-1] < '0' || t[i-1] > '9') && t[i-1] != '.' {
		i--
	}
	num, unit := strings.TrimSpace(t[:i]), strings.ToLower(strings.TrimSpace(t[i:]))
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (want B, KB, MB, GB, KiB, MiB or GiB)", s, unit)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || f*mult > 1<<50 {
		return 0, fmt.Errorf("size %q: want a positive number of bytes up to 1 PiB with an optional unit", s)
	}
	return int64(f * mult), nil
}
