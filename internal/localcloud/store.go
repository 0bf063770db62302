package localcloud

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StateFile is the name of the bbolt database inside the state directory.
const StateFile = "state.db"

// Bucket names. Values are JSON; keys are names or ids.
var (
	bucketGroups     = []byte("groups")
	bucketTemplates  = []byte("templates")
	bucketInstances  = []byte("instances")
	bucketActivities = []byte("activities")
	bucketMeta       = []byte("meta")
	keyMeta          = []byte("meta")
	keySchema        = []byte("schema")
)

const schemaVersion = "1"

// store persists the state in bbolt. Every commit is one transaction.
type store struct {
	db *bolt.DB
}

// openStore opens (creating if needed) dir/state.db.
func openStore(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, StateFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketGroups, bucketTemplates, bucketInstances, bucketActivities, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
		}
		m := tx.Bucket(bucketMeta)
		switch v := m.Get(keySchema); {
		case v == nil:
			return m.Put(keySchema, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("state schema %s, this kelp reads %s", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("initialise state %s: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// load reads the whole state.
func (s *store) load() (*state, error) {
	st := newState()
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := loadBucket(tx, bucketGroups, st.groups); err != nil {
			return err
		}
		if err := loadBucket(tx, bucketTemplates, st.templates); err != nil {
			return err
		}
		if err := loadBucket(tx, bucketInstances, st.instances); err != nil {
			return err
		}
		if err := loadBucket(tx, bucketActivities, st.activities); err != nil {
			return err
		}
		if v := tx.Bucket(bucketMeta).Get(keyMeta); v != nil {
			if err := json.Unmarshal(v, &st.meta); err != nil {
				return fmt.Errorf("decode meta: %w", err)
			}
		}
		if st.meta.IPCursor == nil {
			st.meta.IPCursor = map[string]int{}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	return st, nil
}

func loadBucket[T any](tx *bolt.Tx, name []byte, into map[string]*T) error {
	return tx.Bucket(name).ForEach(func(k, v []byte) error {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("decode %s/%s: %w", name, k, err)
		}
		into[string(k)] = &x
		return nil
	})
}

// apply writes the changes in one transaction.
func (s *store) apply(ch *changes) error {
	if ch.empty() {
		return nil
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := writeBucket(tx, bucketGroups, ch.groups); err != nil {
			return err
		}
		if err := writeBucket(tx, bucketTemplates, ch.templates); err != nil {
			return err
		}
		if err := writeBucket(tx, bucketInstances, ch.instances); err != nil {
			return err
		}
		if err := writeBucket(tx, bucketActivities, ch.activities); err != nil {
			return err
		}
		if ch.meta != nil {
			v, err := json.Marshal(ch.meta)
			if err != nil {
				return fmt.Errorf("encode meta: %w", err)
			}
			return tx.Bucket(bucketMeta).Put(keyMeta, v)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit state: %w", err)
	}
	return nil
}

func writeBucket[T any](tx *bolt.Tx, name []byte, m map[string]*T) error {
	b := tx.Bucket(name)
	for k, v := range m {
		if v == nil {
			if err := b.Delete([]byte(k)); err != nil {
				return fmt.Errorf("delete %s/%s: %w", name, k, err)
			}
			continue
		}
		data, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s/%s: %w", name, k, err)
		}
		if err := b.Put([]byte(k), data); err != nil {
			return fmt.Errorf("put %s/%s: %w", name, k, err)
		}
	}
	return nil
}

// errClosed is returned by operations on a closed cloud.
var errClosed = errors.New("local cloud closed")
