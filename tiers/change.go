package tiers

// Kinds of Change.
const (
	// ChangeTier means a tier was created, updated or deleted; Name says
	// which.
	ChangeTier = "tier"
	// ChangeClient means a client's assignment changed; ClientID says whose.
	ChangeClient = "client"
	// ChangeReset means an admin reset ClientID's quota (Store.NotifyReset).
	ChangeReset = "reset"
	// ChangeResync means the listener (re)connected and reloaded
	// everything: notifications sent while it was away are lost, so any
	// change may have happened. Drop all derived state.
	ChangeResync = "resync"
	// ChangeOperation means an operation cost rule (migration 00012) was
	// created, replaced or deleted; Name says which. The Cache holds no
	// rules: it passes the news on to whoever does.
	ChangeOperation = "operation"
)

// Change describes what the Cache just learned, for callers that keep state
// derived from tiers (such as "this client is over its limit" knowledge).
type Change struct {
	// Kind is ChangeTier, ChangeClient, ChangeReset, ChangeResync or
	// ChangeOperation.
	Kind string
	// Name is the tier's name, for ChangeTier, or the rule's, for
	// ChangeOperation.
	Name string
	// ClientID is the client's ID, for ChangeClient and ChangeReset.
	ClientID string
}

// channel is the LISTEN/NOTIFY channel changes travel on.
const channel = "quota_changes"

// notification is the JSON payload sent on channel: by the migrations'
// triggers, one per changed row ({"kind":"tier","name":…,"version":…} and
// {"kind":"client","id":…,"tier":…,"version":…}, with "deleted":true when
// the row is gone), and by Store.NotifyReset, {"kind":"reset","id":…}.
type notification struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	ID   string `json:"id,omitempty"`
	Tier string `json:"tier,omitempty"`
	// AnchorDay is a client's anchor day (migration 00006); 0, from an
	// older payload, reads as 1.
	AnchorDay int   `json:"anchor_day,omitempty"`
	Version   int64 `json:"version,omitempty"`
	Deleted   bool  `json:"deleted,omitempty"`
}
