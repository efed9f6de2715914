package servecmd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/vramcalc/vramcalc/hfmeta"
	"github.com/vramcalc/vramcalc/internal/cmdutil"
)

// hubMemo remembers the models the server read from the Hub, for hubTTL,
// and makes concurrent reads of one model one read. vramcalc keeps no copy
// of a Hub model on disk, and the page asks a dozen estimates of the same
// model at once (its trade-off chart): without it each would read the Hub
// again. Only answers are remembered, never failures (a gated model may be
// granted a minute later); a branch such as main may move, which hubTTL
// bounds.
type hubMemo struct {
	fetch func(context.Context, cmdutil.HubRequest) (hfmeta.Meta, error)
	now   func() time.Time
	group singleflight.Group

	mu  sync.Mutex
	got map[string]memoEntry
}

// memoEntry is one model as read: its JSON (what vramcalc-hub prints), so
// that every request decodes its own copy and none shares another's slices.
type memoEntry struct {
	meta []byte
	at   time.Time
}

const (
	hubTTL      = 10 * time.Minute
	hubMemoSize = 64
)

func newHubMemo(fetch func(context.Context, cmdutil.HubRequest) (hfmeta.Meta, error)) *hubMemo {
	return &hubMemo{fetch: fetch, now: time.Now, got: map[string]memoEntry{}}
}

// Fetch is cmdutil.Env's Hub: the remembered model, else one read shared
// by every request that asks for it meanwhile. The read is the first
// request's (its timeout), and outlives that request's cancellation, so
// that the others still get it.
func (m *hubMemo) Fetch(ctx context.Context, r cmdutil.HubRequest) (hfmeta.Meta, error) {
	key := r.Endpoint + "\x00" + r.Repo + "\x00" + r.Revision
	if b, ok := m.lookup(key); ok {
		return decodeMeta(b)
	}
	ch := m.group.DoChan(key, func() (any, error) {
		meta, err := m.fetch(context.WithoutCancel(ctx), r)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(meta)
		if err != nil {
			return nil, fmt.Errorf("serve: remember %s: %w", r.Repo, err)
		}
		m.store(key, b)
		return b, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return hfmeta.Meta{}, res.Err
		}
		return decodeMeta(res.Val.([]byte))
	case <-ctx.Done():
		return hfmeta.Meta{}, fmt.Errorf("serve: read %s from the Hub: %w", r.Repo, context.Cause(ctx))
	}
}

func decodeMeta(b []byte) (hfmeta.Meta, error) {
	var meta hfmeta.Meta
	if err := json.Unmarshal(b, &meta); err != nil {
		return meta, fmt.Errorf("serve: remembered model: %w", err)
	}
	return meta, nil
}

func (m *hubMemo) lookup(key string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.got[key]
	if !ok || m.now().Sub(e.at) >= hubTTL {
		return nil, false
	}
	return e.meta, true
}

// store remembers b, forgetting the oldest model when hubMemoSize are.
func (m *hubMemo) store(key string, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.got[key]; !ok && len(m.got) >= hubMemoSize {
		oldest := ""
		for k, e := range m.got {
			if oldest == "" || e.at.Before(m.got[oldest].at) {
				oldest = k
			}
		}
		delete(m.got, oldest)
	}
	m.got[key] = memoEntry{meta: b, at: m.now()}
}
