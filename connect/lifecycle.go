package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Lifecycle event types.
const (
	EventInstalled   = "installed"
	EventUninstalled = "uninstalled"
	EventEnabled     = "enabled"
	EventDisabled    = "disabled"
)

// MaxLifecycleBody caps a lifecycle callback body. Real payloads are about
// 1 KiB; the description is admin-editable, so leave room.
const MaxLifecycleBody = 64 << 10

// Payload is the JSON body Jira POSTs to the lifecycle callbacks.
type Payload struct {
	Key                      string `json:"key"`
	ClientKey                string `json:"clientKey"`
	SharedSecret             string `json:"sharedSecret,omitempty"`
	ServerVersion            string `json:"serverVersion"`
	PluginsVersion           string `json:"pluginsVersion"`
	BaseURL                  string `json:"baseUrl"`
	DisplayURL               string `json:"displayUrl"`
	ProductType              string `json:"productType"`
	Description              string `json:"description"`
	ServiceEntitlementNumber string `json:"serviceEntitlementNumber"`
	EventType                string `json:"eventType"`
	OAuthClientID            string `json:"oauthClientId"`
	CloudID                  string `json:"cloudId"`
	InstallationID           string `json:"installationId"`
}

// Payload errors; each maps to a 400 with its code (see PayloadProblem).
var (
	ErrPayloadTooLarge = errors.New("lifecycle payload too large")
	ErrPayloadJSON     = errors.New("lifecycle payload is not valid JSON")
	ErrPayloadField    = errors.New("lifecycle payload field missing or invalid")
	ErrPayloadEvent    = errors.New("lifecycle payload has the wrong eventType")
)

// PayloadError names the offending field.
type PayloadError struct {
	Err   error
	Field string
	Why   string
}

func (e *PayloadError) Error() string {
	if e.Field == "" {
		return e.Err.Error() + ": " + e.Why
	}
	return fmt.Sprintf("%v: %s %s", e.Err, e.Field, e.Why)
}

func (e *PayloadError) Unwrap() error { return e.Err }

// DecodePayload reads and validates a lifecycle body for the given event.
// The body is read up to MaxLifecycleBody; unknown fields are ignored
// (Atlassian adds fields over time) but the known ones are checked.
func DecodePayload(r io.Reader, event string) (*Payload, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxLifecycleBody+1))
	if err != nil {
		return nil, &PayloadError{Err: ErrPayloadJSON, Why: "reading the body: " + err.Error()}
	}
	if len(b) > MaxLifecycleBody {
		return nil, &PayloadError{Err: ErrPayloadTooLarge, Why: fmt.Sprintf("more than %d bytes", MaxLifecycleBody)}
	}
	return ParsePayload(b, event)
}

// ParsePayload validates a lifecycle body already in memory.
func ParsePayload(b []byte, event string) (*Payload, error) {
	if !utf8.Valid(b) {
		return nil, &PayloadError{Err: ErrPayloadJSON, Why: "the body is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var p Payload
	if err := dec.Decode(&p); err != nil {
		return nil, &PayloadError{Err: ErrPayloadJSON, Why: err.Error()}
	}
	if dec.More() {
		return nil, &PayloadError{Err: ErrPayloadJSON, Why: "trailing data after the JSON object"}
	}
	req := func(field, v string, max int) error {
		switch {
		case strings.TrimSpace(v) == "":
			return &PayloadError{Err: ErrPayloadField, Field: field, Why: "is required"}
		case len(v) > max:
			return &PayloadError{Err: ErrPayloadField, Field: field, Why: fmt.Sprintf("is longer than %d characters", max)}
		case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return &PayloadError{Err: ErrPayloadField, Field: field, Why: "contains control characters"}
		}
		return nil
	}
	if err := req("clientKey", p.ClientKey, 255); err != nil {
		return nil, err
	}
	if err := req("key", p.Key, 64); err != nil {
		return nil, err
	}
	if err := req("baseUrl", p.BaseURL, 512); err != nil {
		return nil, err
	}
	if p.EventType != "" && p.EventType != event {
		return nil, &PayloadError{Err: ErrPayloadEvent, Field: "eventType", Why: fmt.Sprintf("is %q on the %s callback", p.EventType, event)}
	}
	if event == EventInstalled {
		if p.SharedSecret == "" {
			return nil, &PayloadError{Err: ErrPayloadField, Field: "sharedSecret", Why: "is required"}
		}
		if len(p.SharedSecret) < MinSecretLength {
			return nil, &PayloadError{Err: ErrPayloadField, Field: "sharedSecret", Why: fmt.Sprintf("must be at least %d bytes", MinSecretLength)}
		}
		if len(p.SharedSecret) > 512 {
			return nil, &PayloadError{Err: ErrPayloadField, Field: "sharedSecret", Why: "is longer than 512 bytes"}
		}
	}
	for _, f := range []struct{ name, v string }{{"displayUrl", p.DisplayURL}, {"productType", p.ProductType},
		{"serviceEntitlementNumber", p.ServiceEntitlementNumber}, {"oauthClientId", p.OAuthClientID},
		{"cloudId", p.CloudID}, {"installationId", p.InstallationID}, {"serverVersion", p.ServerVersion},
		{"pluginsVersion", p.PluginsVersion}} {
		if len(f.v) > 512 {
			return nil, &PayloadError{Err: ErrPayloadField, Field: f.name, Why: "is longer than 512 characters"}
		}
	}
	if len(p.Description) > 4096 {
		p.Description = p.Description[:4096]
	}
	p.BaseURL = strings.TrimSuffix(p.BaseURL, "/")
	return &p, nil
}
