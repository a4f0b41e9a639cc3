package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/connect-doctor/connect-doctor/config"
)

func TestForgeSettings(t *testing.T) {
	load := func(m map[string]string) (*config.Config, error) {
		return config.Load(func(k string) string { return m[k] })
	}
	c, err := load(nil)
	if err != nil || c.ForgeEnabled {
		t.Fatalf("unset FORGE_APP_ID must leave Forge off: %+v %v", c, err)
	}
	c, err = load(map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_API_HOSTS": "api.atlassian.com,127.0.0.1:9443"})
	if err != nil || !c.ForgeEnabled || c.Forge.AppID != "8db33809-1f32-48bb-8c52-5877dab48107" || len(c.Forge.APIHosts) != 2 {
		t.Fatalf("%+v %v", c, err)
	}
	c, err = load(map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_REQUIRE_LICENSE": "allow-absent",
		"FORGE_PRE_UNINSTALL_TIMEOUT": "40s", "FORGE_IC_JWKS_URL": "https://forge.cdn.{IC_LABEL}.example/.well-known/jwks.json", "FORGE_IC_LABELS": "acme"})
	if err != nil || c.ForgeLicense == nil || !c.ForgeLicense.AllowAbsentInProduction || c.ForgePreUninstallTimeout.Seconds() != 40 ||
		len(c.Forge.ICLabels) != 1 {
		t.Fatalf("licence, pre-uninstall and IC settings: %+v %v", c, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"bad app id":                 {map[string]string{"FORGE_APP_ID": "doctor"}, "FORGE_APP_ID"},
		"bad jwks url":               {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_JWKS_URL": "jwks.json"}, "FORGE_JWKS_URL"},
		"bad staging bool":           {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_ALLOW_STAGING": "maybe"}, "FORGE_ALLOW_STAGING"},
		"bad environment":            {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_ALLOWED_ENVIRONMENTS": "PROD"}, "FORGE_ALLOWED_ENVIRONMENTS"},
		"bad api host":               {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_API_HOSTS": "https://api.atlassian.com"}, "FORGE_API_HOSTS"},
		"ic labels without template": {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_IC_LABELS": "acme"}, "FORGE_IC_JWKS_URL"},
		"ic template without label":  {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_IC_JWKS_URL": "https://x/jwks.json"}, "FORGE_IC_JWKS_URL"},
		"upper-case ic label": {map[string]string{"FORGE_APP_ID": "8db33809-1f32-48bb-8c52-5877dab48107", "FORGE_IC_JWKS_URL": "https://x/{IC_LABEL}/jwks.json",
			"FORGE_IC_LABELS": "ACME"}, "FORGE_IC_LABELS"},
		"bad license mode":             {map[string]string{"FORGE_REQUIRE_LICENSE": "yes please"}, "FORGE_REQUIRE_LICENSE"},
		"pre-uninstall at 55 s":        {map[string]string{"FORGE_PRE_UNINSTALL_TIMEOUT": "55s"}, "FORGE_PRE_UNINSTALL_TIMEOUT"},
		"pre-uninstall not a duration": {map[string]string{"FORGE_PRE_UNINSTALL_TIMEOUT": "50"}, "FORGE_PRE_UNINSTALL_TIMEOUT"},
	} {
		_, err := load(tc.env)
		var ce *config.Error
		if !errors.Is(err, config.ErrInvalid) || !errors.As(err, &ce) || ce.Var != tc.want || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (want the error to name %s)", name, err, tc.want)
		}
	}
}
