package loadgen

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/redisserver"
)

// writeTestPKI writes a throwaway CA and a 127.0.0.1 server certificate.
func writeTestPKI(t *testing.T) (files redisserver.TLSFiles, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dfe2e test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return redisserver.TLSFiles{
		Cert: write("server.pem", "CERTIFICATE", der), Key: write("server-key.pem", "EC PRIVATE KEY", keyDER),
		CA: write("ca.pem", "CERTIFICATE", caDER),
	}, pool
}

func TestTLSTargetWithPassword(t *testing.T) {
	files, pool := writeTestPKI(t)
	s, err := redisserver.Start(context.Background(), redisserver.Options{TLS: &files, Password: "pw"})
	if err != nil {
		t.Fatalf("starting redis-server with TLS: %v", err)
	}
	t.Cleanup(s.Stop)
	m, err := Run(context.Background(), Target{Addr: s.Addr, Password: "pw", TLS: &tls.Config{RootCAs: pool}},
		Workload{Connections: 2, Pipeline: 8, Requests: 2000, Keyspace: 100}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Result.Requests != 2000 || len(m.Result.Errors) != 0 {
		t.Fatalf("over TLS: %d requests, errors %v; want 2000 and none", m.Result.Requests, m.Result.Errors)
	}
	// Plaintext against the TLS port is not RESP to the client.
	if _, err := Run(context.Background(), Target{Addr: s.Addr, Password: "pw", DialTimeout: time.Second}, quick, Options{}); !IsBadInput(err) {
		t.Errorf("plaintext against a TLS port: %v, want a setup error", err)
	}
}
