package approver

import (
	"context"
	"errors"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/kelp-dev/kelp/internal/cloud"
)

// RecordGCPeriod is how often the controller collects the record's
// garbage: expired certificates, entries past retention, and the entries
// of instances that are terminated or gone.
const RecordGCPeriod = 5 * time.Minute

// InstanceGetter reads one instance by ID; a cloud.Provider is one.
type InstanceGetter interface {
	InstanceByID(ctx context.Context, id string) (cloud.Instance, error)
}

// collectRecord runs CollectRecord every RecordGCPeriod until ctx ends.
// The controller runs only while it leads, so only the leader writes.
func (c *Controller) collectRecord(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Clock.After(RecordGCPeriod):
		}
		if err := c.CollectRecord(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Warn("approval record garbage collection failed; retrying next period", "err", BoundText(err.Error()))
		}
	}
}

// CollectRecord forgets the record's entries of instances that are
// terminated or that the cloud no longer knows, and prunes expired
// certificates and old entries. An instance in a group of the provider's
// snapshot (not terminated) is alive without asking; the others are
// looked up one by one, and one the cloud cannot answer for is kept.
func (c *Controller) CollectRecord(ctx context.Context) error {
	approvals, err := c.Sources.Record.Approvals(ctx)
	if err != nil {
		return err
	}
	var gone []string
	if c.Instances != nil && len(approvals) > 0 {
		alive := map[string]bool{}
		if groups, err := c.Sources.Cloud.NodeGroups(ctx); err == nil {
			for _, g := range groups {
				for _, i := range g.Instances {
					alive[i.ID] = i.State != cloud.InstanceStateTerminated
				}
			}
		}
		for id := range approvals {
			if alive[id] {
				continue
			}
			inst, err := c.Instances.InstanceByID(ctx, id)
			if errors.Is(err, cloud.ErrNotFound) || (err == nil && inst.State == cloud.InstanceStateTerminated) {
				gone = append(gone, id)
			}
		}
	}
	now := c.Clock.Now()
	if len(gone) > 0 {
		err = c.Sources.Record.Forget(ctx, gone, now)
		if err == nil {
			c.Logger.Info("forgot the record of instances gone", "instances", len(gone))
		}
	} else {
		err = c.Sources.Record.Prune(ctx, now)
	}
	c.observeRecord()
	return err
}

// recordIssued records the certificate of an issued client CSR in the
// entry of the instance kelp approved it for.
func (c *Controller) recordIssued(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	id, err := c.Sources.Record.Issued(ctx, csr, c.Clock.Now())
	c.observeRecord()
	if errors.Is(err, ErrBadCertificate) {
		c.Logger.Warn("issued certificate not recorded", "csr", csr.Name, "instance", id, "err", BoundText(err.Error()))
		return nil
	}
	if err == nil && id != "" {
		c.Logger.Info("issued certificate recorded", "csr", csr.Name, "instance", id)
	}
	return err
}

// observeRecord exports the record's size and says loudly when it nears
// the API server's limit.
func (c *Controller) observeRecord() {
	n := c.Sources.Record.Bytes()
	c.Metrics.RecordBytes.Set(float64(n))
	if n > RecordWarnBytes {
		c.Logger.Error("the approval record nears the 1 MiB limit of a ConfigMap", "bytes", n, "configmap", RecordNamespace+"/"+RecordName)
	}
}
