package connect

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
)

// HS256Header is base64url({"typ":"JWT","alg":"HS256"}), the header
// Atlassian's libraries emit on the HS256 tokens an app signs.
const HS256Header = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9"

// AppTokenLifetime is exp − iat of the app JWTs, as ACE uses.
const AppTokenLifetime = 180 * time.Second

// SignHS256 is the one signer of the HS256 JWTs an app sends out (app
// tokens to Jira, JWT-bearer assertions to the authorization server):
// HS256Header, the payload (a JSON object) and the HMAC-SHA256 of both
// under the tenant's shared secret, base64url without padding.
func SignHS256(payload []byte, secret string) string {
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(HS256Header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(sha256.Size))
	buf = append(buf, HS256Header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(buf)
	var sum [sha256.Size]byte
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, m.Sum(sum[:0]))
	return string(buf)
}

// SignAppToken returns the JWT with which an app calls a tenant's REST API
// for one request: iss = appKey, aud = [clientKey], iat = now, exp = iat +
// AppTokenLifetime and the qsh of method and requestURI (relative to the
// site, basePath being the path of the tenant's baseUrl, e.g. "/wiki").
// The claims are written in ACE's order without reflection; the caller
// has checked that appKey, clientKey and secret are set.
func SignAppToken(appKey, clientKey, secret, basePath, method, requestURI string, now time.Time) string {
	iat := now.Unix()
	qsh := RequestQSH(method, requestURI, basePath)
	// {"iss","iat","exp","qsh","aud":[…]}
	payload := make([]byte, 0, 64+len(appKey)+len(qsh)+len(clientKey))
	payload = append(payload, `{"iss":`...)
	payload = appendJSONString(payload, appKey)
	payload = append(payload, `,"iat":`...)
	payload = strconv.AppendInt(payload, iat, 10)
	payload = append(payload, `,"exp":`...)
	payload = strconv.AppendInt(payload, iat+int64(AppTokenLifetime/time.Second), 10)
	payload = append(payload, `,"qsh":"`...)
	payload = append(payload, qsh...)
	payload = append(payload, `","aud":[`...)
	payload = appendJSONString(payload, clientKey)
	payload = append(payload, "]}"...)
	return SignHS256(payload, secret)
}

// appendJSONString appends s as a JSON string: plain printable ASCII
// directly, anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
