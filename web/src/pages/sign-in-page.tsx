import { useState, type FormEvent } from "react";
import { errorMessage } from "../api/client";
import { useSession } from "../session";
import { TextField } from "../ui/fields";
import { Notice } from "../ui/notices";

export function SignInPage({ reason }: { reason?: string | undefined }) {
  const { signIn } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    signIn(username, password).then(
      () => setBusy(false),
      (err: unknown) => {
        setBusy(false);
        setError(errorMessage(err));
      },
    );
  };

  return (
    <main className="sign-in" id="main">
      <form className="sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Mailroom</h1>
        <p className="muted">Sign in to the contact center&apos;s email.</p>
        {reason ? <Notice>{reason}</Notice> : null}
        <TextField label="Username" value={username} onChange={setUsername} autoComplete="username" required name="username" />
        <TextField label="Password" type="password" value={password} onChange={setPassword} autoComplete="current-password" required name="password" />
        {error ? (
          <div className="notice notice-error" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted small">
          First start: the user is <code>admin</code>, with the password from <code>MAILROOM_ADMIN_PASSWORD</code> or the one Mailroom printed to its console.
        </p>
      </form>
    </main>
  );
}
