package storage

import "time"

// TenantRow is the tenants table. The shared secret is stored only as
// AES-256-GCM ciphertext (SharedSecretEnc), bound to the clientKey.
type TenantRow struct {
	ClientKey                string `gorm:"primaryKey;size:255"`
	AppKey                   string `gorm:"size:64;not null"`
	BaseURL                  string `gorm:"column:base_url;size:512;not null"`
	DisplayURL               string `gorm:"column:display_url;size:512;not null;default:''"`
	ProductType              string `gorm:"size:64;not null;default:''"`
	Description              string `gorm:"not null;default:''"`
	ServiceEntitlementNumber string `gorm:"size:512;not null;default:''"`
	OAuthClientID            string `gorm:"column:oauth_client_id;size:512;not null;default:''"`
	CloudID                  string `gorm:"size:512;not null;default:''"`
	InstallationID           string `gorm:"size:512;not null;default:''"`
	ServerVersion            string `gorm:"size:512;not null;default:''"`
	PluginsVersion           string `gorm:"size:512;not null;default:''"`
	SharedSecretEnc          string `gorm:"column:shared_secret_enc;not null"`
	Scopes                   string `gorm:"size:512;not null;default:''"`
	State                    string `gorm:"size:16;not null"`
	InstalledAt              time.Time
	UpdatedAt                time.Time `gorm:"autoUpdateTime:false"`
	SecretRotatedAt          time.Time
}

// TableName fixes the table name.
func (TenantRow) TableName() string { return "tenants" }

// LifecycleEvent is one row of the append-only lifecycle log: every
// lifecycle attempt, accepted or rejected.
type LifecycleEvent struct {
	ID        string `gorm:"primaryKey;size:32"`
	ClientKey string `gorm:"size:255;not null;default:''"`
	Event     string `gorm:"size:16;not null"`
	Outcome   string `gorm:"size:16;not null"` // accepted | rejected | failed
	Reason    string `gorm:"size:64;not null;default:''"`
	Detail    string `gorm:"size:1024;not null;default:''"`
	CreatedAt time.Time
}

// TableName fixes the table name.
func (LifecycleEvent) TableName() string { return "lifecycle_events" }

// Lifecycle outcomes.
const (
	OutcomeAccepted = "accepted"
	OutcomeRejected = "rejected"
	OutcomeFailed   = "failed"
)
