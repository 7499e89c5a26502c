import { useState } from "react";
import { get, patch } from "../../api/client";
import type { List } from "../../api/types";
import { useMe } from "../../session";
import { EmptyState, ErrorNotice, Loading, Notice } from "../../ui/notices";
import { Time } from "../../ui/time";
import { useResource } from "../../use-resource";
import { ConfirmDialog } from "../../ui/confirm-dialog";
import { CreateUserDialog, EditUserDialog, PasswordDialog } from "./user-dialogs";
import { roleLabel, type User } from "./user-types";

type Open = { kind: "create" } | { kind: "edit" | "password" | "disable"; user: User } | null;

const usersPath = (id: string) => `/api/v1/users/${encodeURIComponent(id)}`;

export function UsersPage() {
  const me = useMe();
  const users = useResource("users", () => get<List<User>>("/api/v1/users"));
  const [open, setOpen] = useState<Open>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const close = () => setOpen(null);
  const done = (message: string) => {
    setOpen(null);
    setError(null);
    setNotice(message);
    users.reload();
  };

  const enable = (user: User) => {
    setNotice(null);
    setError(null);
    patch<User>(usersPath(user.id), { disabled: false }).then(
      () => done(`${user.username} is enabled and can sign in again.`),
      (err: unknown) => setError(err),
    );
  };

  const list = users.data?.items;
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Users</h1>
      <p className="muted">
        Everyone who signs in to Mailroom. Agents answer the email of their queues, supervisors watch the queues and set routing, administrators set up
        mailboxes, applications and users.
      </p>
      <div className="toolbar">
        <button
          type="button"
          className="primary"
          onClick={() => {
            setNotice(null);
            setOpen({ kind: "create" });
          }}
        >
          New user
        </button>
      </div>
      {notice ? <Notice kind="success">{notice}</Notice> : null}
      <ErrorNotice error={error} />
      {users.error ? <ErrorNotice error={users.error} title="The users could not be loaded." /> : null}
      {users.loading ? (
        <Loading label="Loading users…" minHeight="16rem" />
      ) : list && list.length === 0 ? (
        <EmptyState title="No users yet" />
      ) : list ? (
        <div className="table-wrap">
          <table className="stack-table">
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">Display name</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Last sign-in</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((user) => (
                <tr key={user.id} data-user={user.username}>
                  <th scope="row">
                    {user.username}
                    {user.id === me.id ? <span className="muted"> (you)</span> : null}
                  </th>
                  <td data-label="Display name">{user.displayName ?? <span className="muted">—</span>}</td>
                  <td data-label="Role">{roleLabel(user.role)}</td>
                  <td data-label="State">{user.disabled ? <span className="badge badge-error">Disabled</span> : <span className="badge badge-ok">Enabled</span>}</td>
                  <td data-label="Last sign-in">{user.lastLoginAt ? <Time iso={user.lastLoginAt} /> : <span className="muted">Never</span>}</td>
                  <td>
                    <div className="row-actions">
                      <button type="button" aria-label={`Edit ${user.username}`} onClick={() => setOpen({ kind: "edit", user })}>
                        Edit
                      </button>
                      <button type="button" aria-label={`Set password for ${user.username}`} onClick={() => setOpen({ kind: "password", user })}>
                        Set password
                      </button>
                      {user.disabled ? (
                        <button type="button" aria-label={`Enable ${user.username}`} onClick={() => enable(user)}>
                          Enable
                        </button>
                      ) : (
                        <button type="button" className="danger" aria-label={`Disable ${user.username}`} onClick={() => setOpen({ kind: "disable", user })}>
                          Disable
                        </button>
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      {open?.kind === "create" ? <CreateUserDialog onClose={close} onCreated={(u) => done(`${u.username} is created as ${roleLabel(u.role).toLowerCase()}.`)} /> : null}
      {open?.kind === "edit" ? <EditUserDialog user={open.user} onClose={close} onSaved={(u) => done(`${u.username} is saved.`)} /> : null}
      {open?.kind === "password" ? (
        <PasswordDialog user={open.user} onClose={close} onSet={() => done(`The new password of ${open.user.username} is set; they were signed out and sign in with it.`)} />
      ) : null}
      {open?.kind === "disable" ? (
        <ConfirmDialog
          title={`Disable ${open.user.username}?`}
          confirmLabel="Disable"
          onClose={close}
          onConfirm={async () => {
            await patch<User>(usersPath(open.user.id), { disabled: true });
            done(`${open.user.username} is disabled and was signed out.`);
          }}
        >
          <p>
            {open.user.username} is signed out at once and cannot sign in until an administrator enables them again.
            {open.user.id === me.id ? " This is you: you will be signed out now." : ""}
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}
