package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
)

// armResult is what Resource Manager says about one vault.
type armResult struct {
	done     bool
	notFound string // the error code when the resource does not exist
	enabled  bool   // enabledForTemplateDeployment
}

// newARMPipeline builds the pipeline for Resource Manager reads: bearer tokens for the cloud's
// management scope, retries, request counting, and a guard that allows only GETs of vaults.
func (v *Verifier) newARMPipeline() runtime.Pipeline {
	o := v.opt.ClientOptions
	o.Cloud = v.cloud.Configuration
	bearer := runtime.NewBearerTokenPolicy(v.opt.Identity.Credential, []string{v.cloud.ManagementScope()}, nil)
	return runtime.NewPipeline("stagegate-verify", "v1", runtime.PipelineOptions{
		PerCall:  []policy.Policy{vaultReadOnlyPolicy{}},
		PerRetry: []policy.Policy{countPolicy{n: &v.mgmtRequests}, bearer},
	}, &o)
}

// vaultReadOnlyPolicy allows only GET of a Microsoft.KeyVault/vaults resource.
type vaultReadOnlyPolicy struct{}

func (vaultReadOnlyPolicy) Do(req *policy.Request) (*http.Response, error) {
	r := req.Raw()
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodGet || len(segs) != 8 || !strings.EqualFold(segs[5], "Microsoft.KeyVault") || !strings.EqualFold(segs[6], "vaults") {
		return nil, fmt.Errorf("refusing %s %s: reference verification only reads vault resources", r.Method, r.URL.Path)
	}
	return req.Next()
}

// readVault reads enabledForTemplateDeployment of one vault (KV014).
func (v *Verifier) readVault(ctx context.Context, pl runtime.Pipeline, vr *VaultResource) (armResult, error) {
	u := strings.TrimSuffix(v.cloud.ManagementEndpoint, "/") + vr.ID + "?api-version=" + url.QueryEscape(ARMAPIVersion)
	req, err := runtime.NewRequest(ctx, http.MethodGet, u)
	if err != nil {
		return armResult{}, fmt.Errorf("read vault %s from Resource Manager: %w", vr.ID, err)
	}
	req.Raw().Header.Set("Accept", "application/json")
	resp, err := pl.Do(req)
	if err != nil {
		return armResult{}, explainARM(err, vr.ID, v.who)
	}
	if resp.StatusCode == http.StatusNotFound {
		code := "NotFound"
		var re *azcore.ResponseError
		if errors.As(runtime.NewResponseError(resp), &re) {
			if d := responseDetail(re); d.Code != "" {
				code = d.Code
			}
		}
		return armResult{done: true, notFound: code}, nil
	}
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return armResult{}, explainARM(runtime.NewResponseError(resp), vr.ID, v.who)
	}
	body, err := runtime.Payload(resp)
	if err != nil {
		return armResult{}, fmt.Errorf("read vault %s from Resource Manager: %w", vr.ID, err)
	}
	enabled, err := parseVaultProperties(body)
	if err != nil {
		return armResult{}, fmt.Errorf("read vault %s from Resource Manager: %w", vr.ID, err)
	}
	return armResult{done: true, enabled: enabled}, nil
}

// parseVaultProperties reads properties.enabledForTemplateDeployment from a vault resource;
// an absent flag is false, as Resource Manager treats it.
func parseVaultProperties(body []byte) (bool, error) {
	var res struct {
		Type       string `json:"type"`
		Properties *struct {
			EnabledForTemplateDeployment *bool `json:"enabledForTemplateDeployment"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return false, fmt.Errorf("the response is not a vault resource: %w", err)
	}
	if res.Properties == nil {
		return false, fmt.Errorf("the response has no properties; expected a Microsoft.KeyVault/vaults resource")
	}
	return res.Properties.EnabledForTemplateDeployment != nil && *res.Properties.EnabledForTemplateDeployment, nil
}
