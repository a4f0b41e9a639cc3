module github.com/connect-doctor/connect-doctor

go 1.26.8

require github.com/golang-jwt/jwt/v5 v5.3.1

require (
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	golang.org/x/sync v0.24.0 // indirect
)
