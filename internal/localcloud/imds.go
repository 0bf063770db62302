package localcloud

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// IMDSv2's headers and limits, as EC2's metadata service has them.
const (
	imdsTokenHeader    = "X-aws-ec2-metadata-token"
	imdsTokenTTLHeader = "X-aws-ec2-metadata-token-ttl-seconds"
	imdsMaxTokenTTL    = 21600
)

// imdsToken is an IMDSv2 session token: it works for the instance it was
// issued to, until it expires.
type imdsToken struct {
	instanceID string
	expires    time.Time
}

// instanceCreds is an instance's current role credentials (a principal of
// the cloud) and the access key of the ones they replaced, which keep
// working until they expire.
type instanceCreds struct {
	role                string
	principal           Principal
	issued              time.Time
	previousAccessKeyID string
}

// Metadata returns the instance metadata service: the handler to serve on
// its own listener (the local stand-in for 169.254.169.254). It knows the
// caller by the request's source address, each instance's private IP
// (127.x.y.z), never by a header, and speaks IMDSv2 only: PUT
// /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds (1-21600)
// returns a session token for that instance; every GET must carry it in
// X-aws-ec2-metadata-token (else 401). It serves
// /latest/dynamic/instance-identity/document, /latest/meta-data/ with
// instance-id, instance-type, ami-id, local-hostname, hostname,
// local-ipv4, instance-life-cycle, placement/{availability-zone,
// availability-zone-id,region}, and for an instance with an instance
// profile iam/info and iam/security-credentials/<role>: temporary
// credentials of the profile's role (a principal whose ARN is
// [AssumedRoleARN]) that last Options.RoleCredentialsTTL and are replaced
// by new ones once a quarter of that is left, the old ones working until
// they expire.
func (c *Cloud) Metadata() http.Handler { return http.HandlerFunc(c.serveMetadata) }

func (c *Cloud) serveMetadata(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "unknown caller", http.StatusForbidden)
		return
	}
	inst, profile, ok := c.instanceAt(host)
	if !ok {
		c.log.Debug("metadata request from no instance", "address", host, "path", r.URL.Path)
		http.Error(w, "Not Found: no instance has address "+host, http.StatusNotFound)
		return
	}
	if r.URL.Path == "/latest/api/token" {
		c.putMetadataToken(w, r, inst.ID)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if !c.validMetadataToken(r.Header.Get(imdsTokenHeader), inst.ID) {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	body, ctype, status := c.metadataAnswer(inst, profile, strings.TrimPrefix(r.URL.Path, "/latest/"))
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// instanceAt returns the one live instance whose private IP is addr and
// its instance profile's name; none when no instance, or two (look-alikes
// in both VPCs), have it.
func (c *Cloud) instanceAt(addr string) (InstanceInfo, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var found *instance
	for _, inst := range c.st.instances {
		if inst.PrivateIP != addr || inst.State == stateTerminated {
			continue
		}
		if found != nil {
			return InstanceInfo{}, "", false
		}
		found = inst
	}
	if found == nil {
		return InstanceInfo{}, "", false
	}
	return c.instanceInfo(found), found.Profile, true
}

// putMetadataToken answers PUT /latest/api/token.
func (c *Cloud) putMetadataToken(w http.ResponseWriter, r *http.Request, instanceID string) {
	if r.Method != http.MethodPut {
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" { // EC2 refuses proxied token requests
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(imdsTokenTTLHeader))
	if err != nil || ttl < 1 || ttl > imdsMaxTokenTTL {
		http.Error(w, "Bad Request: "+imdsTokenTTLHeader+" must be 1 to 21600", http.StatusBadRequest)
		return
	}
	token := randomToken(32)
	now := c.clock.Now()
	c.iam.mu.Lock()
	for t, it := range c.iam.tokens {
		if !now.Before(it.expires) {
			delete(c.iam.tokens, t)
		}
	}
	c.iam.tokens[token] = imdsToken{instanceID: instanceID, expires: now.Add(time.Duration(ttl) * time.Second)}
	c.iam.mu.Unlock()
	w.Header().Set(imdsTokenTTLHeader, strconv.Itoa(ttl))
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte(token))
}

// validMetadataToken reports whether token was issued to the instance and
// has not expired.
func (c *Cloud) validMetadataToken(token, instanceID string) bool {
	if token == "" {
		return false
	}
	c.iam.mu.Lock()
	defer c.iam.mu.Unlock()
	it, ok := c.iam.tokens[token]
	return ok && it.instanceID == instanceID && c.clock.Now().Before(it.expires)
}

// metadataAnswer is the body, content type and status of a GET of path
// (below /latest/).
func (c *Cloud) metadataAnswer(inst InstanceInfo, profile, path string) ([]byte, string, int) {
	const text, js = "text/plain", "application/json"
	if path == "dynamic/instance-identity/document" {
		return identityDocument(inst), js, http.StatusOK
	}
	lifecycle := "on-demand"
	if inst.CapacityType == "spot" {
		lifecycle = "spot"
	}
	values := map[string]string{
		"instance-id": inst.ID, "instance-type": inst.InstanceType, "ami-id": inst.ImageID,
		"local-hostname": inst.PrivateDNSName, "hostname": inst.PrivateDNSName, "local-ipv4": inst.PrivateIP,
		"instance-life-cycle": lifecycle, "placement/availability-zone": inst.AvailabilityZone,
		"placement/availability-zone-id": inst.AvailabilityZoneID, "placement/region": inst.Region,
	}
	key, ok := strings.CutPrefix(path, "meta-data/")
	switch {
	case !ok:
	case key == "":
		names := []string{"ami-id", "hostname", "instance-id", "instance-life-cycle", "instance-type", "local-hostname", "local-ipv4", "placement/"}
		if profile != "" {
			names = append(names, "iam/")
		}
		return []byte(strings.Join(names, "\n")), text, http.StatusOK
	case values[key] != "":
		return []byte(values[key]), text, http.StatusOK
	case profile != "" && strings.HasPrefix(key, "iam/"):
		return c.iamMetadata(inst.ID, profile, strings.TrimPrefix(key, "iam/"))
	}
	return []byte("Not Found"), text, http.StatusNotFound
}

// iamMetadata answers iam/info, iam/security-credentials/ (the role's
// name) and iam/security-credentials/<role> (its current credentials).
func (c *Cloud) iamMetadata(instanceID, profileName, key string) ([]byte, string, int) {
	p := c.iam.profiles[profileName]
	now := c.clock.Now().UTC()
	switch {
	case key == "info":
		return mustJSON(map[string]string{"Code": "Success", "LastUpdated": now.Format(time.RFC3339),
			"InstanceProfileArn": InstanceProfileARN(p.Name), "InstanceProfileId": iamIDOf("AIPA", p.Name)}), "application/json", http.StatusOK
	case p.Role == "":
	case key == "security-credentials/":
		return []byte(p.Role), "text/plain", http.StatusOK
	case key == "security-credentials/"+p.Role:
		cr, err := c.roleCredentials(instanceID, p.Role, now)
		if err != nil {
			c.log.Error("issue role credentials", "instance", instanceID, "role", p.Role, "error", err)
			return []byte("Internal Server Error"), "text/plain", http.StatusInternalServerError
		}
		return mustJSON(map[string]string{"Code": "Success", "LastUpdated": cr.issued.Format(time.RFC3339), "Type": "AWS-HMAC",
			"AccessKeyId": cr.principal.AccessKeyID, "SecretAccessKey": cr.principal.SecretAccessKey,
			"Token": cr.principal.SessionToken, "Expiration": cr.principal.Expires.UTC().Format(time.RFC3339)}), "application/json", http.StatusOK
	}
	return []byte("Not Found"), "text/plain", http.StatusNotFound
}

// roleCredentials returns the instance's current credentials for role,
// issuing new ones (a new principal) when there are none, they are of
// another role, or a quarter of their lifetime is left. The ones they
// replace keep working until they expire; the ones before those are
// forgotten (they expired already).
func (c *Cloud) roleCredentials(instanceID, role string, now time.Time) (instanceCreds, error) {
	c.iam.mu.Lock()
	defer c.iam.mu.Unlock()
	cur := c.iam.creds[instanceID]
	if cur != nil && cur.role == role && now.Before(cur.principal.Expires.Add(-c.credsTTL/4)) {
		return *cur, nil
	}
	p := Principal{Name: role + "/" + instanceID, ARN: AssumedRoleARN(role, instanceID),
		AccessKeyID: "ASIA" + strings.ToUpper(randomHex(16)), SecretAccessKey: randomToken(30),
		SessionToken: randomToken(96), Expires: now.Add(c.credsTTL).Truncate(time.Second),
		Authorizer: c.iam.roles[role].Authorizer}
	if err := c.principals.add(p); err != nil {
		return instanceCreds{}, err
	}
	next := &instanceCreds{role: role, principal: p, issued: now}
	if cur != nil {
		if cur.previousAccessKeyID != "" {
			c.principals.remove(cur.previousAccessKeyID)
		}
		next.previousAccessKeyID = cur.principal.AccessKeyID
	}
	c.iam.creds[instanceID] = next
	return *next, nil
}

// identityDocument is EC2's instance identity document for inst.
func identityDocument(inst InstanceInfo) []byte {
	return mustJSON(map[string]any{
		"accountId": inst.AccountID, "architecture": inst.Architecture, "availabilityZone": inst.AvailabilityZone,
		"billingProducts": nil, "devpayProductCodes": nil, "marketplaceProductCodes": nil, "imageId": inst.ImageID,
		"instanceId": inst.ID, "instanceType": inst.InstanceType, "kernelId": nil,
		"pendingTime": inst.LaunchTime.UTC().Format(time.RFC3339), "privateIp": inst.PrivateIP, "ramdiskId": nil,
		"region": inst.Region, "version": "2017-09-30",
	})
}

// mustJSON marshals a map of plain values (it cannot fail).
func mustJSON(v any) []byte {
	b, _ := json.MarshalIndent(v, "", "  ")
	return b
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}
