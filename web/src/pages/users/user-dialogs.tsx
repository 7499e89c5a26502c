import { Dialog } from "../../ui/dialog";
import { useState, type FormEvent } from "react";
import { patch, post } from "../../api/client";
import type { Role } from "../../api/types";
import { SelectField, TextField } from "../../ui/fields";
import { browserProblem, FormActions, FormErrorNotice, useSaveForm } from "../../ui/form-kit";
import { roleChoices, type User } from "./user-types";

const passwordHint = "At least 8 characters. Tell the user, and ask them to change it under Account.";
const mismatch = "The two passwords are not the same: type the new password again.";

export function CreateUserDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (user: User) => void }) {
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [role, setRole] = useState<Role>("agent");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const { save, form, errors } = useSaveForm();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (password !== again) return save.refuse(browserProblem("again", mismatch));
    save.run(async () => {
      const body = { username, role, password, ...(displayName.trim() ? { displayName } : {}) };
      onCreated(await post<User>("/api/v1/users", body));
    });
  };

  return (
    <Dialog title="New user" onClose={onClose}>
      <form ref={form} className="form" onSubmit={submit} noValidate>
        <div className="form-grid">
          <TextField
            label="Username"
            value={username}
            onChange={setUsername}
            error={errors["username"]}
            hint="What they sign in with: letters, digits and @ _ . -"
            autoComplete="off"
            required
          />
          <TextField label="Display name" value={displayName} onChange={setDisplayName} error={errors["displayName"]} hint="Optional: how colleagues see them" autoComplete="off" />
        </div>
        <SelectField label="Role" value={role} onChange={(v) => setRole(v as Role)} choices={roleChoices} error={errors["role"]} hint={roleHint} required />
        <div className="form-grid">
          <TextField label="Password" type="password" value={password} onChange={setPassword} error={errors["password"]} hint={passwordHint} autoComplete="new-password" required />
          <TextField label="Type the password again" type="password" value={again} onChange={setAgain} error={errors["again"]} autoComplete="new-password" required />
        </div>
        <FormErrorNotice error={save.error} fields={["username", "displayName", "role", "password", "again"]} />
        <FormActions onCancel={onClose} busy={save.busy} label="Create user" busyLabel="Creating…" />
      </form>
    </Dialog>
  );
}

const roleHint = "Agents answer the email of their queues; supervisors watch the queues and set routing; administrators set up everything.";

export function EditUserDialog({ user, onClose, onSaved }: { user: User; onClose: () => void; onSaved: (user: User) => void }) {
  const [displayName, setDisplayName] = useState(user.displayName ?? "");
  const [role, setRole] = useState<Role>(user.role);
  const [capacity, setCapacity] = useState(String(user.capacity));
  const { save, form, errors } = useSaveForm();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.run(async () => {
      // an empty or non-numeric capacity is sent as it is, so that the API says what it accepts
      const body = { displayName, role, capacity: capacity.trim() === "" ? null : Number(capacity) };
      onSaved(await patch<User>(`/api/v1/users/${encodeURIComponent(user.id)}`, body));
    });
  };

  return (
    <Dialog title={`Edit ${user.username}`} onClose={onClose}>
      <form ref={form} className="form" onSubmit={submit} noValidate>
        <TextField label="Username" value={user.username} readOnly hint="A username cannot change." />
        <TextField label="Display name" value={displayName} onChange={setDisplayName} error={errors["displayName"]} hint="Leave empty to show the username" autoComplete="off" />
        <SelectField label="Role" value={role} onChange={(v) => setRole(v as Role)} choices={roleChoices} error={errors["role"]} hint={roleHint} required />
        <TextField
          label="Capacity"
          type="number"
          value={capacity}
          onChange={setCapacity}
          error={errors["capacity"]}
          hint="The most interactions offered to this user at once while they are available."
          required
        />
        <FormErrorNotice error={save.error} fields={["displayName", "role", "capacity"]} />
        <FormActions onCancel={onClose} busy={save.busy} label="Save" busyLabel="Saving…" />
      </form>
    </Dialog>
  );
}

export function PasswordDialog({ user, onClose, onSet }: { user: User; onClose: () => void; onSet: () => void }) {
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const { save, form, errors } = useSaveForm();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (password !== again) return save.refuse(browserProblem("again", mismatch));
    save.run(async () => {
      await post(`/api/v1/users/${encodeURIComponent(user.id)}/password`, { password });
      onSet();
    });
  };

  return (
    <Dialog title={`Set a new password for ${user.username}`} onClose={onClose}>
      <form ref={form} className="form" onSubmit={submit} noValidate>
        <p className="muted">Setting a password signs {user.username} out everywhere; they sign in again with the new one.</p>
        <TextField label="New password" type="password" value={password} onChange={setPassword} error={errors["password"]} hint={passwordHint} autoComplete="new-password" required />
        <TextField label="Type the new password again" type="password" value={again} onChange={setAgain} error={errors["again"]} autoComplete="new-password" required />
        <FormErrorNotice error={save.error} fields={["password", "again"]} />
        <FormActions onCancel={onClose} busy={save.busy} label="Set password" busyLabel="Setting…" />
      </form>
    </Dialog>
  );
}
