package connect

import (
	"encoding/json"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a Connect JWT: the registered claims plus the
// query-string hash and the product context. Tokens are always decoded into
// this typed struct, never into a map.
type Claims struct {
	jwt.RegisteredClaims
	QSH     string          `json:"qsh,omitempty"`
	Context json.RawMessage `json:"context,omitempty"`

	// accountID is AccountID worked out once by the verifier (the context
	// is JSON to decode), valid when accountIDSet.
	accountID    string
	accountIDSet bool
}

// AccountID returns the acting user's Atlassian accountId: the context's
// user.accountId when present, otherwise "sub".
func (c *Claims) AccountID() string {
	if c.accountIDSet {
		return c.accountID
	}
	return c.accountIDFromClaims()
}

func (c *Claims) accountIDFromClaims() string {
	if len(c.Context) > 0 {
		var ctx struct {
			User struct {
				AccountID string `json:"accountId"`
			} `json:"user"`
		}
		if json.Unmarshal(c.Context, &ctx) == nil && ctx.User.AccountID != "" {
			return ctx.User.AccountID
		}
	}
	return c.Subject
}
