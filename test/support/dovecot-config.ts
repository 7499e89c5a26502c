import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import type { DovecotOptions } from "./dovecot.js";

// The configuration of a private Dovecot for tests: everything in one temp dir, on 127.0.0.1.

/** A system user for mail files: Dovecot refuses to run mail processes as root. */
export function mailUser(): { uid: number; gid: number } {
  const probe = spawnSync("id", ["-u", "vmail"], { encoding: "utf8" });
  if (probe.status !== 0) execFileSync("useradd", ["-r", "-M", "-s", "/usr/sbin/nologin", "vmail"], { stdio: "pipe" });
  const uid = Number(execFileSync("id", ["-u", "vmail"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "vmail"], { encoding: "utf8" }).trim());
  return { uid, gid };
}

export function makeCertificate(dir: string): { cert: string; key: string } {
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", key, "-out", cert, "-days", "3", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ],
    { stdio: "pipe" },
  );
  fs.chmodSync(key, 0o600);
  return { cert, key };
}

export interface Ports {
  imap: number;
  pop3: number;
  imaps: number;
  pop3s: number;
}

export function dovecotConfig(dir: string, ids: { uid: number; gid: number }, ports: Ports, opts: DovecotOptions): string {
  const tls = opts.tls === true;
  const clientLimit = opts.extra?.clientLimit;
  const processLimit = opts.extra?.imapProcessLimit;
  const lines = [
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${dir}/dovecot.log`,
    `info_log_path = ${dir}/dovecot.log`,
    `listen = 127.0.0.1`,
    `protocols = imap pop3`,
    `disable_plaintext_auth = no`,
    `auth_mechanisms = plain login${opts.oauth2IntrospectionUrl ? " xoauth2 oauthbearer" : ""}`,
    // wrong-password tests would otherwise slow every later login from 127.0.0.1
    `auth_failure_delay = 0`,
    `mail_location = maildir:${dir}/mail/%u`,
    `mail_uid = ${ids.uid}`,
    `mail_gid = ${ids.gid}`,
    `first_valid_uid = ${ids.uid}`,
    `last_valid_uid = 0`,
    `pop3_uidl_format = %08Xu%08Xv`,
    // session processes show their user in their title, so a test can find (and pause) them
    `verbose_proctitle = yes`,
    ...(opts.maxUserIpConnections === undefined ? [] : [`mail_max_userip_connections = ${opts.maxUserIpConnections}`]),
    tls ? `ssl = yes` : `ssl = no`,
    ...(tls ? [`ssl_cert = <${dir}/cert.pem`, `ssl_key = <${dir}/key.pem`] : []),
    ...(opts.oauth2IntrospectionUrl
      ? [`passdb {`, `  driver = oauth2`, `  mechanisms = xoauth2 oauthbearer`, `  args = ${dir}/dovecot-oauth2.conf.ext`, `}`]
      : []),
    `passdb {`,
    `  driver = passwd-file`,
    ...(opts.oauth2IntrospectionUrl ? [`  mechanisms = plain login`] : []),
    // one file per user: Dovecot looks at a passwd-file at most once a second, so a user added to
    // a shared file right after a login elsewhere would stay unknown for up to a second
    `  args = scheme=PLAIN username_format=%u ${dir}/users/%u`,
    `}`,
    `userdb {`,
    `  driver = passwd-file`,
    `  args = username_format=%u ${dir}/users/%u`,
    `  default_fields = uid=${ids.uid} gid=${ids.gid} home=${dir}/home/%u`,
    `}`,
    `namespace inbox {`,
    `  inbox = yes`,
    `  separator = /`,
    `}`,
    `service imap-login {`,
    `  chroot =`,
    `  inet_listener imap {`,
    `    port = ${ports.imap}`,
    `  }`,
    `  inet_listener imaps {`,
    `    port = ${tls ? ports.imaps : 0}`,
    `  }`,
    ...(clientLimit ? [`  service_count = 0`, `  process_limit = 8`, `  client_limit = ${clientLimit}`] : []),
    `}`,
    `service pop3-login {`,
    `  chroot =`,
    `  inet_listener pop3 {`,
    `    port = ${ports.pop3}`,
    `  }`,
    `  inet_listener pop3s {`,
    `    port = ${tls ? ports.pop3s : 0}`,
    `  }`,
    `}`,
    `service anvil {`,
    `  unix_listener anvil-auth-penalty {`,
    `    mode = 0`,
    `  }`,
    ...(clientLimit ? [`  client_limit = ${clientLimit + 100}`] : []),
    `}`,
  ];
  if (clientLimit) {
    lines.push(
      `default_client_limit = ${clientLimit}`,
      `service auth {`,
      `  client_limit = ${clientLimit + 100}`,
      `}`,
      `service stats {`,
      `  client_limit = ${clientLimit + 100}`,
      `}`,
    );
  }
  if (processLimit) lines.push(`service imap {`, `  process_limit = ${processLimit}`, `}`);
  return lines.join("\n") + "\n";
}

