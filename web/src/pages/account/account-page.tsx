import { useState, type FormEvent } from "react";
import { post } from "../../api/client";
import type { Role } from "../../api/types";
import { useMe } from "../../session";
import { TextField } from "../../ui/fields";
import { Notice } from "../../ui/notices";
import { browserProblem, FormErrorNotice, useSaveForm } from "../../ui/form-kit";
import { roleLabel } from "../users/user-types";
import "./account.css";

const whatYouDo: Record<Role, string> = {
  agent: "You answer the email of the queues you work, in the Workspace.",
  supervisor: "You watch the queues and their agents, and set how email is routed to the queues.",
  admin: "You set up mailboxes, applications, routing and users, and can do everything a supervisor does.",
};

export function AccountPage() {
  const me = useMe();
  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">Account</h1>
      <div className="panel account-panel">
        <h2>You</h2>
        <dl className="details">
          <dt>Username</dt>
          <dd>{me.username}</dd>
          <dt>Role</dt>
          <dd>{roleLabel(me.role)}</dd>
        </dl>
        <p className="muted">{whatYouDo[me.role]}</p>
      </div>
      <ChangePasswordForm />
    </section>
  );
}

const mismatch = "The two new passwords are not the same: type the new password again.";

function ChangePasswordForm() {
  const [currentPassword, setCurrent] = useState("");
  const [newPassword, setNew] = useState("");
  const [again, setAgain] = useState("");
  const [changed, setChanged] = useState(false);
  const { save, form, errors } = useSaveForm();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setChanged(false);
    // the API never sees the second copy: only the browser can tell the two apart
    if (newPassword !== again) return save.refuse(browserProblem("again", mismatch));
    save.run(async () => {
      await post("/api/v1/me/password", { currentPassword, newPassword });
      setCurrent("");
      setNew("");
      setAgain("");
      setChanged(true);
    });
  };

  return (
    <form ref={form} className="panel form account-panel" onSubmit={submit} noValidate aria-labelledby="password-title">
      <h2 id="password-title">Change your password</h2>
      <TextField
        label="Current password"
        type="password"
        value={currentPassword}
        onChange={setCurrent}
        error={errors["currentPassword"]}
        autoComplete="current-password"
        required
      />
      <TextField
        label="New password"
        type="password"
        value={newPassword}
        onChange={setNew}
        error={errors["newPassword"]}
        hint="At least 8 characters."
        autoComplete="new-password"
        required
      />
      <TextField label="Type the new password again" type="password" value={again} onChange={setAgain} error={errors["again"]} autoComplete="new-password" required />
      <FormErrorNotice error={save.error} fields={["currentPassword", "newPassword", "again"]} />
      {changed ? (
        <Notice kind="success">Your password is changed. You stay signed in here; anywhere else you were signed in, you are signed out.</Notice>
      ) : null}
      <div className="actions">
        <button type="submit" className="primary" disabled={save.busy}>
          {save.busy ? "Changing…" : "Change password"}
        </button>
      </div>
    </form>
  );
}
