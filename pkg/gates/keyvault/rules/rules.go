// Package rules holds the Key Vault reference gate's rules (KV000-KV011) and the per-format
// analyses that apply them: ARM templates and parameters files, Bicep and .bicepparam files,
// Terraform configurations and variable files, Azure Pipelines YAML, and any other scanned file
// (credentials only). Analysis is two-phase: Analyze parses one file once and returns its issues
// plus a small summary (declared parameters, parameter values, deployment tasks); Pair then
// applies the cross-file rules to the summaries alone, so no file is read or parsed twice and
// no parse tree outlives its file.
package rules

import (
	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/keyvault"
)

// Rule ids.
const (
	KV000 = "KV000"
	KV001 = "KV001"
	KV002 = "KV002"
	KV003 = "KV003"
	KV004 = "KV004"
	KV005 = "KV005"
	KV006 = "KV006"
	KV007 = "KV007"
	KV008 = "KV008"
	KV009 = "KV009"
	KV010 = "KV010"
	KV011 = "KV011"
	KV012 = "KV012"
	KV013 = "KV013"
	KV014 = "KV014"
)

// Catalog returns the rules this version evaluates statically (KV000-KV011), in id order.
func Catalog() []finding.Rule {
	return append([]finding.Rule(nil), catalog[:12]...)
}

// VerifyCatalog returns the rules of reference verification (KV012-KV014), which need Key Vault
// access and are not evaluated by this version.
func VerifyCatalog() []finding.Rule {
	return append([]finding.Rule(nil), catalog[12:]...)
}

var catalog = [...]finding.Rule{
	{ID: KV000, Name: "UnparsableTemplate", Severity: finding.Error,
		Description: "A file classified as a template, parameters file or pipeline cannot be parsed, so the gate cannot prove it is free of literal secrets: the run fails in every mode.",
		Help:        "Fix the syntax error at the line and column shown (the parser message says what was expected), or exclude the file with the exclude input if it is not a deployment file."},
	{ID: KV001, Name: "SecureParameterLiteralValue", Severity: finding.Error,
		Description: "A secure parameter (securestring/secureObject, @secure()) gets a literal value in a parameters file (*.parameters.json, .bicepparam) or a nested deployment or module instead of a Key Vault reference. When the template is not found, the parameter name decides.",
		Help:        "Store the value in Key Vault and reference it: in a parameters file use {\"reference\": {\"keyVault\": {\"id\": \"<vault resource id>\"}, \"secretName\": \"<name>\"}}; in a .bicepparam use az.getSecret('<subscription>', '<group>', '<vault>', '<name>'); in Bicep pass kv.getSecret('<name>') to the module."},
	{ID: KV002, Name: "SecureParameterDefault", Severity: finding.Error,
		Description: "A secure parameter has a non-empty default value, which is stored in the template in clear text. [newGuid()] and a pass-through of another parameter are allowed.",
		Help:        "Remove the default value and supply the secret at deployment time from a Key Vault reference; for a generated one-time value use newGuid()."},
	{ID: KV003, Name: "SecretParameterNotSecure", Severity: finding.Error,
		Description: "A string or object parameter whose name says it holds a secret (password, secret, token, key, connectionString, sasToken; not publicKey, keyVaultName, secretName, ...) is not declared secure, so its value is logged in the deployment history.",
		Help:        "Declare it securestring / secureObject (ARM) or add @secure() (Bicep); if it does not hold a secret, rename it."},
	{ID: KV004, Name: "SecretInOutput", Severity: finding.Error,
		Description: "A secret leaves the deployment through an output: a list*() call (listKeys, listSecrets, ...), a secure parameter, or an output whose name contains 'password'. Outputs are stored in clear text in the deployment history.",
		Help:        "Remove the output, or declare it secure (\"type\": \"securestring\" / @secure() output), or write the secret to Key Vault and output its secret URI instead."},
	{ID: KV005, Name: "SecretInScriptCommand", Severity: finding.Error,
		Description: "A VM or scale-set script extension (or run command) puts a secret in commandToExecute (or parameters) under settings, which are stored and shown in clear text, instead of protectedSettings (or protectedParameters).",
		Help:        "Move commandToExecute (or the secret parameters) from settings to protectedSettings (for run commands, from parameters to protectedParameters)."},
	{ID: KV006, Name: "SecretInOuterScopeNestedDeployment", Severity: finding.Error,
		Description: "A nested deployment evaluated in the outer scope (expressionEvaluationOptions.scope absent or 'outer') uses a secure parameter of the parent template or a list*() result in its inline template, so the value is written in clear text into the nested deployment's template.",
		Help:        "Set properties.expressionEvaluationOptions.scope to 'inner', declare a secure parameter in the inline template and pass the value through properties.parameters."},
	{ID: KV007, Name: "SensitivePropertyLiteral", Severity: finding.Error,
		Description: "A sensitive resource property (adminPassword, administratorLoginPassword, sharedKey, servicePrincipalProfile.secret, a Key Vault secret's value, a secret-named app setting, ...) is set to a literal in an ARM or Bicep template.",
		Help:        "Set it from a secure parameter filled by a Key Vault reference (ARM), or from kv.getSecret() / a @secure() parameter (Bicep)."},
	{ID: KV008, Name: "KeyVaultReferenceInvalid", Severity: finding.Error,
		Description: "A Key Vault reference is malformed (vault resource id, vault name, secret name ^[A-Za-z0-9-]{1,127}$, version) or points to a vault outside allowedVaults. A vault computed at deployment time cannot be checked against allowedVaults and is a warning.",
		Help:        "Use /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name> and a secret name of letters, digits and hyphens; reference only vaults listed in allowedVaults (or add the vault to the list)."},
	{ID: KV009, Name: "CredentialInFile", Severity: finding.Error,
		Description: "A credential (storage account key, SAS signature, Entra client secret, connection string or URL with a password, private key block) appears in a scanned file. The value is never shown: messages carry a redacted form.",
		Help:        "Rotate the credential now (it is in the repository history), move it to Key Vault and reference it; if it is a test fixture, accept it in the baseline with a justification."},
	{ID: KV010, Name: "TerraformSensitiveLiteral", Severity: finding.Error,
		Description: "Terraform: a sensitive argument (administrator_login_password, admin_password, client_secret, azurerm_key_vault_secret value, secret-named settings, ...) is a literal, or a secret-named variable lacks sensitive = true or has a literal default.",
		Help:        "Read the value from a data \"azurerm_key_vault_secret\" block or a variable marked sensitive = true that the pipeline fills from Key Vault; never commit it in .tf or .tfvars files."},
	{ID: KV011, Name: "PipelineSecretLiteral", Severity: finding.Error,
		Description: "Azure Pipelines YAML: a secret-looking literal in variables: or a step's env:, or a literal passed for a secure template parameter through a deployment task's overrideParameters or an Azure CLI deployment's inline --parameters.",
		Help:        "Use a secret variable (variable group linked to Key Vault, or the AzureKeyVault task) and reference it as $(name); pass secrets to templates with Key Vault references in the parameters file."},
	{ID: KV012, Name: "ReferencedSecretUnusable", Severity: finding.Error,
		Description: "(verifyReferences) The referenced secret does not exist, is disabled, is not yet valid, or has expired.",
		Help:        "Create or enable the secret, or fix the reference."},
	{ID: KV013, Name: "ReferencedSecretExpiring", Severity: finding.Warning,
		Description: "(verifyReferences) The secret expires within expiryWarningDays, or has no expiry date (requireExpiry).",
		Help:        "Rotate the secret and set an expiry date."},
	{ID: KV014, Name: "VaultTemplateDeploymentDisabled", Severity: finding.Error,
		Description: "(verifyReferences) A vault referenced from an ARM parameters file does not allow template deployment (enabledForTemplateDeployment is false), so the deployment would fail.",
		Help:        "Set enabledForTemplateDeployment to true on the vault, or reference another vault."},
}

// Format is what a scanned file is.
type Format int

// Formats.
const (
	Other Format = iota
	ARMTemplate
	ARMParameters
	Bicep
	BicepParams
	Terraform
	TFVars
	Pipeline
)

var formatNames = [...][2]string{
	{"other file", "other files"}, {"ARM template", "ARM templates"},
	{"ARM parameters file", "ARM parameters files"}, {"Bicep file", "Bicep files"},
	{"Bicep parameters file", "Bicep parameters files"}, {"Terraform file", "Terraform files"},
	{"Terraform variables file", "Terraform variables files"}, {"pipeline", "pipelines"},
}

func (f Format) String() string { return formatNames[f][0] }

// Plural names n files of the format.
func (f Format) Plural(n int) string {
	if n == 1 {
		return formatNames[f][0]
	}
	return formatNames[f][1]
}

// Check groups, one per file type, in report order.
const (
	GroupARM       = "ARM"
	GroupBicep     = "Bicep"
	GroupTerraform = "Terraform"
	GroupPipelines = "Pipelines"
	GroupOther     = "Other files"
)

// Groups lists the check groups in report order.
func Groups() []string {
	return []string{GroupARM, GroupBicep, GroupTerraform, GroupPipelines, GroupOther}
}

// Group returns the check group of a format.
func (f Format) kindWord() string {
	switch f {
	case ARMTemplate:
		return "ARM template"
	case ARMParameters:
		return "ARM parameters file"
	case Bicep:
		return "Bicep file"
	case BicepParams:
		return "Bicep parameters file"
	case Terraform:
		return "Terraform file"
	case TFVars:
		return "Terraform variables file"
	case Pipeline:
		return "pipeline YAML"
	}
	return "file"
}

func (f Format) Group() string {
	switch f {
	case ARMTemplate, ARMParameters:
		return GroupARM
	case Bicep, BicepParams:
		return GroupBicep
	case Terraform, TFVars:
		return GroupTerraform
	case Pipeline:
		return GroupPipelines
	}
	return GroupOther
}

// Issue is a finding inside one file, before the gate adds the path, group and fingerprint.
type Issue struct {
	Rule     string
	Severity finding.Severity // the rule's severity when empty
	Line     int
	Column   int
	// Logical is a location that survives line shifts: a JSON pointer, a parameter name, a
	// block address.
	Logical string
	Message string
	// ValueHash identifies a redacted secret value (KV009); never the value itself.
	ValueHash string
	// FailClosed marks KV000.
	FailClosed bool
	// span is the byte range of the literal value judged, used to drop KV009 duplicates.
	start, end int
}

// Config is what rules need besides the file.
type Config struct {
	// Allow is the allowedVaults list; nil or empty allows every vault.
	Allow *keyvault.AllowList
}

// Severity returns the default severity of a rule.
func Severity(id string) finding.Severity {
	for _, r := range catalog {
		if r.ID == id {
			return r.Severity
		}
	}
	return finding.Error
}
