package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/stagegate/stagegate/pkg/finding"
	"github.com/stagegate/stagegate/pkg/keyvault"
)

// collect turns assessments into results, findings, notes and stats.
func (v *Verifier) collect(plan *Plan, outs []outcome, arms []armResult) {
	var results []Result
	var fs []finding.Finding
	seen := map[string]bool{}
	add := func(rule string, sev finding.Severity, ref keyvault.Reference, target, code, msg string) {
		fp := finding.Fingerprint(rule, ref.Source.Path, ref.Source.Logical, strings.ToLower(target), code)
		if seen[fp] {
			return // the same reference written twice at one place
		}
		seen[fp] = true
		fs = append(fs, finding.Finding{
			Rule: rule, Severity: sev, Check: CheckName, Message: msg + where(ref),
			Location:    finding.Location{Path: ref.Source.Path, Line: ref.Source.Line, Column: ref.Source.Column, Logical: ref.Source.Logical},
			Fingerprint: fp,
		})
	}
	secrets := 0
	for i, t := range plan.Targets {
		o := outs[i]
		r := Result{Vault: t.Vault, Secret: t.Secret, Version: t.Version, Refs: t.Refs}
		if !o.done {
			r.State, r.Reason = StateNotVerified, "the vault could not be read (see the error)"
			results = append(results, r)
			continue
		}
		secrets++
		a := o.a
		r.Checked, r.Found, r.Expires = a.Version, a.Found, a.Expires
		target := t.Host + "/" + t.Secret + "/" + t.Version
		switch {
		case len(a.Unusable) > 0:
			r.State, r.problems = StateUnusable, a.Unusable
			msg, code := joinProblems(a.Unusable)
			r.Reason = msg
			for _, ref := range t.Refs {
				add(KV012, finding.Error, ref, target, code, "vault "+t.Vault+": "+msg)
			}
		case len(a.Warnings) > 0:
			r.State, r.problems = StateWarning, a.Warnings
			msg, code := joinProblems(a.Warnings)
			r.Reason = msg
			for _, ref := range t.Refs {
				add(KV013, finding.Warning, ref, target, code, "vault "+t.Vault+": "+msg)
			}
		default:
			r.State = StateOK
		}
		results = append(results, r)
	}
	for i, vr := range plan.Vaults {
		a := arms[i]
		if !a.done {
			continue
		}
		name := vr.ID[strings.LastIndexByte(vr.ID, '/')+1:]
		switch {
		case a.notFound != "":
			for _, ref := range vr.Refs {
				add(KV014, finding.Error, ref, vr.ID, codeVaultNotFound, fmt.Sprintf("vault resource %s does not exist (404 %s), so the deployment cannot resolve the reference: fix the subscription, resource group or name", vr.ID, a.notFound))
			}
		case !a.enabled:
			for _, ref := range vr.Refs {
				add(KV014, finding.Error, ref, vr.ID, codeTemplateDeploy, fmt.Sprintf("vault %s does not allow template deployment (enabledForTemplateDeployment is false), so the deployment would fail to read the secret: set it to true on the vault", name))
			}
		}
	}
	for _, u := range plan.Unresolved {
		r := Result{Vault: u.Ref.Vault.String(), Secret: u.Ref.Secret, Version: u.Ref.Version, State: StateNotVerified, Reason: u.Reason, Refs: []keyvault.Reference{u.Ref}}
		if u.Ref.SecretDynamic {
			r.Secret = "(computed)"
		}
		results = append(results, r)
	}
	var notes []string
	if n := len(plan.Unresolved); n > 0 {
		notes = append(notes, fmt.Sprintf("%d Key Vault %s could not be verified because the template computes the vault or the secret at deployment time, or names every secret (see the verification table); they count as not verified, never as verified", n, plural(n, "reference", "references")))
	}
	if plan.NoResourceID > 0 {
		notes = append(notes, fmt.Sprintf("KV014 (enabledForTemplateDeployment) was not checked for %d deployment-time %s whose vault resource id is not written out (resourceId() in the deployment's resource group, Bicep 'existing' without a scope)", plan.NoResourceID, plural(plan.NoResourceID, "reference", "references")))
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.results, v.findings, v.notes = results, fs, notes
	v.stats.References = 0
	for _, t := range plan.Targets {
		v.stats.References += len(t.Refs)
	}
	v.stats.References += len(plan.Unresolved)
	v.stats.Secrets = secrets
	v.stats.NotVerified = len(plan.Unresolved)
}

func joinProblems(ps []Problem) (msg, code string) {
	msgs := make([]string, len(ps))
	codes := make([]string, len(ps))
	for i, p := range ps {
		msgs[i], codes[i] = p.Message, p.Code
	}
	sort.Strings(codes)
	return strings.Join(msgs, "; "), strings.Join(codes, "+")
}

func where(ref keyvault.Reference) string {
	if ref.Parameter != "" {
		return fmt.Sprintf(" (referenced for parameter '%s')", ref.Parameter)
	}
	return ""
}

// Table lists every distinct secret and every reference not verified, with its state.
func (v *Verifier) Table() finding.Table {
	t := finding.Table{Title: "Key Vault references verified", Header: []string{"Vault", "Secret", "Version", "State", "Expires", "Referenced from"}}
	for _, r := range v.Results() {
		version := r.Version
		if version == "" {
			version = "current"
			if r.Found {
				version += " (" + r.Checked + ")"
			}
		}
		state := string(r.State)
		switch r.State {
		case StateOK:
			state = "verified ok"
		case StateUnusable:
			state = "KV012: " + r.Reason
		case StateWarning:
			state = "KV013: " + r.Reason
		case StateNotVerified:
			state = "not verified: " + r.Reason
		}
		expires := "-"
		switch {
		case r.Expires != nil:
			expires = r.Expires.UTC().Format("2006-01-02")
		case r.Found:
			expires = "never"
		}
		t.Rows = append(t.Rows, []string{r.Vault, r.Secret, version, state, expires, refsAt(r.Refs)})
	}
	if len(t.Rows) == 0 {
		t.Rows = append(t.Rows, []string{"-", "no Key Vault references", "", "", "", ""})
	}
	return t
}

func refsAt(refs []keyvault.Reference) string {
	if len(refs) == 0 {
		return ""
	}
	s := fmt.Sprintf("%s:%d", refs[0].Source.Path, refs[0].Source.Line)
	if len(refs) > 1 {
		s += fmt.Sprintf(" and %d more", len(refs)-1)
	}
	return s
}
