import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export interface EmulatorCertificates {
  /** the emulator's own certificate authority: clients trust this file (NODE_EXTRA_CA_CERTS, MAILROOM_TRUSTED_CA_FILE) */
  caFile: string;
  caPem: string;
  keyPem: string;
  certPem: string;
}

/**
 * A certificate authority of its own and a server certificate it signed for 127.0.0.1 and localhost.
 * MSAL refuses http:// authorities (and Graph sends notifications to https only), so the emulator must
 * speak TLS that a client can be told to trust, without trusting every self-signed certificate. Made
 * with the openssl command (Debian's `openssl` package); kept in `dir`, so a restarted emulator given
 * the same directory keeps the CA its clients already trust.
 */
export function emulatorCertificates(dir: string): EmulatorCertificates {
  fs.mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, name);
  if (!fs.existsSync(file("server.pem"))) {
    const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl("req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "3650",
      "-subj", "/CN=Mailroom Microsoft emulator CA",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
    openssl("req", ...ec, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=127.0.0.1");
    fs.writeFileSync(
      file("server.ext"),
      "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    );
    openssl("x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"),
      "-CAcreateserial", "-out", file("server.pem"), "-days", "825", "-extfile", file("server.ext"));
  }
  return {
    caFile: file("ca.pem"),
    caPem: fs.readFileSync(file("ca.pem"), "utf8"),
    keyPem: fs.readFileSync(file("server.key"), "utf8"),
    certPem: fs.readFileSync(file("server.pem"), "utf8"),
  };
}
