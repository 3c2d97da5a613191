package commands

import (
	"context"
	"fmt"

	"github.com/go-crypt/crypt/algorithm/shacrypt"
	"github.com/hashicorp/go-hclog"

	"github.com/metalagent/metalagent/agent/ipa"
)

// RescuePasswordFile is where finalize_rescue puts the rescue user's
// password hash, for the ramdisk's rescue service (outside the agent),
// which creates the user "rescue" with it.
const RescuePasswordFile = "/etc/ipa-rescue-config/ipa-rescue-password"

func registerRescue(r *Runner, d *Deps) {
	r.Register("rescue", "finalize_rescue", Command{Run: d.finalizeRescue})
}

// finalizeRescue writes the rescue password's hash and, once the answer
// is sent, stops the API and the heartbeats, as IPA does so that the
// agent is never reachable from the tenant network the node moves to.
// Ironic sends the hash it made (hashed=true); a plain password (Ironic's
// fallback for agents older than IPA 6.0) is hashed here with SHA-512
// crypt and a random salt, as Python's crypt.crypt does on Linux.
func (d *Deps) finalizeRescue(ctx context.Context, log hclog.Logger, p Params) (any, error) {
	var password string
	var hashed bool
	if err := p.Decode("rescue_password", &password); err != nil {
		return nil, err
	}
	if err := p.Decode("hashed", &hashed); err != nil {
		return nil, err
	}
	hash := password
	if !hashed {
		var err error
		if hash, err = cryptSHA512(password); err != nil {
			return nil, ipa.New("CommandExecutionError", "hash the rescue password: %v", err)
		}
	}
	if err := d.Sandbox.WriteFile(ctx, RescuePasswordFile, []byte(hash), 0o600); err != nil {
		return nil, ipa.New("CommandExecutionError", "Rescue Operation failed when writing the hashed rescue password to the password file: %v", err)
	}
	log.Info("rescue password written; the API and heartbeats stop once this answer is sent",
		"path", RescuePasswordFile, "hashed_by", map[bool]string{true: "ironic", false: "agent"}[hashed])
	if d.StopAPI != nil {
		// The API shuts down gracefully: this request's answer is sent first.
		go d.StopAPI(StopRescued)
	}
	return nil, nil
}

// cryptSHA512 hashes password with SHA-512 crypt ($6$), a random 16
// character salt and the default 5000 rounds (not written in the hash),
// which is what glibc's crypt gives for Python's crypt.crypt(password).
func cryptSHA512(password string) (string, error) {
	h, err := shacrypt.New(shacrypt.WithSHA512(), shacrypt.WithIterations(shacrypt.IterationsDefaultOmitted), shacrypt.WithSaltLength(16))
	if err != nil {
		return "", fmt.Errorf("sha512 crypt: %w", err)
	}
	digest, err := h.Hash(password)
	if err != nil {
		return "", fmt.Errorf("sha512 crypt: %w", err)
	}
	return digest.Encode(), nil
}
