import { useState, type FormEvent } from "react";
import { del, get, post } from "../../api/client";
import type { List } from "../../api/types";
import { useResource } from "../../use-resource";
import { Dialog } from "../../ui/dialog";
import { SelectField, TextField } from "../../ui/fields";
import { EmptyState, ErrorNotice, fieldErrors, Loading } from "../../ui/notices";
import type { Folder, FolderValue } from "./mailboxes.types";

function CreateFolder({ onCreated }: { onCreated: (folder: Folder) => void }) {
  const [name, setName] = useState("");
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setState({ busy: true });
    post<Folder>("/api/v1/business-attributes", { name }).then(
      (folder) => {
        setName("");
        setState({ busy: false });
        onCreated(folder);
      },
      (error: unknown) => setState({ busy: false, error }),
    );
  };
  const errs = fieldErrors(state.error);
  return (
    <form className="mbx-inline-form" onSubmit={submit} noValidate aria-label="Create a folder">
      <TextField label="New folder name" value={name} onChange={setName} error={errs.name} autoComplete="off" />
      <button type="submit" disabled={state.busy}>
        {state.busy ? "Creating…" : "Create folder"}
      </button>
      {state.error && !errs.name ? <ErrorNotice error={state.error} /> : null}
    </form>
  );
}

function AddAddress({ folderId, onAdded }: { folderId: string; onAdded: () => void }) {
  const [name, setName] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setState({ busy: true });
    post<FolderValue>(`/api/v1/business-attributes/${encodeURIComponent(folderId)}/values`, { name, displayName }).then(
      () => {
        setName("");
        setDisplayName("");
        setState({ busy: false });
        onAdded();
      },
      (error: unknown) => setState({ busy: false, error }),
    );
  };
  const errs = fieldErrors(state.error);
  const shown = errs.name !== undefined || errs.displayName !== undefined;
  return (
    <form className="mbx-inline-form mbx-two-fields" onSubmit={submit} noValidate aria-label="Add an address">
      <TextField label="Name" value={name} onChange={setName} error={errs.name} hint="The email address, e.g. support@example.com" autoComplete="off" />
      <TextField label="Display name" value={displayName} onChange={setDisplayName} error={errs.displayName} hint="What recipients see, e.g. Acme Support" autoComplete="off" />
      <button type="submit" disabled={state.busy}>
        {state.busy ? "Adding…" : "Add address"}
      </button>
      {state.error && !shown ? <ErrorNotice error={state.error} /> : null}
    </form>
  );
}

function ValueRow({ value, onDeleted }: { value: FolderValue; onDeleted: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [state, setState] = useState<{ busy: boolean; error?: unknown }>({ busy: false });
  const remove = () => {
    setState({ busy: true });
    del(`/api/v1/business-attributes/${encodeURIComponent(value.folderId)}/values/${encodeURIComponent(value.id)}`).then(
      () => onDeleted(),
      (error: unknown) => setState({ busy: false, error }),
    );
  };
  return (
    <tr>
      <td>{value.name}</td>
      <td>{value.displayName || <span className="muted">—</span>}</td>
      <td className="mbx-row-actions">
        {confirming ? (
          <span role="group" aria-label={`Confirm deleting ${value.name}`} className="mbx-confirm-inline">
            <span>Delete {value.name}? Agents can no longer send from it.</span>
            <button type="button" className="danger" onClick={remove} disabled={state.busy}>
              {state.busy ? "Deleting…" : "Yes, delete"}
            </button>
            <button type="button" onClick={() => setConfirming(false)} disabled={state.busy}>
              Keep it
            </button>
          </span>
        ) : (
          <button type="button" className="danger" aria-label={`Delete ${value.name}`} onClick={() => setConfirming(true)}>
            Delete
          </button>
        )}
        <ErrorNotice error={state.error} />
      </td>
    </tr>
  );
}

function Values({ folderId }: { folderId: string }) {
  const values = useResource(`folder-values:${folderId}`, () =>
    get<List<FolderValue>>(`/api/v1/business-attributes/${encodeURIComponent(folderId)}/values`).then((r) => r.items),
  );
  const items = values.data;
  return (
    <>
      <h3>Addresses in this folder</h3>
      <ErrorNotice error={values.error} />
      {items === undefined ? (
        <Loading minHeight="4rem" />
      ) : items.length === 0 ? (
        <EmptyState title="No addresses in this folder yet.">Add the first one below.</EmptyState>
      ) : (
        <div className="table-wrap">
          <table aria-label="Addresses in this folder">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Display name</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((v) => (
                <ValueRow key={v.id} value={v} onDeleted={() => values.reload()} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h3>Add an address</h3>
      <AddAddress folderId={folderId} onAdded={() => values.reload()} />
    </>
  );
}

/**
 * Manage Email Addresses: the business-attribute folder whose values agents may send from, and
 * those values. Adding and deleting addresses takes effect at once; the folder choice goes to the
 * mailbox form, and so to the mailbox when the form is saved.
 */
export function FromAddressesDialog({
  folderId: initialFolderId,
  onUse,
  onClose,
}: {
  folderId: string | null;
  onUse: (folderId: string | null) => void;
  onClose: () => void;
}) {
  const [folderId, setFolderId] = useState(initialFolderId);
  const folders = useResource("business-attributes", () => get<List<Folder>>("/api/v1/business-attributes").then((r) => r.items));
  const choices = [
    { value: "", label: folders.data && folders.data.length === 0 ? "No folders yet: create one below" : "Choose a folder" },
    ...(folders.data ?? []).map((f) => ({ value: f.id, label: f.name })),
  ];
  return (
    <Dialog title="Manage Email Addresses" onClose={onClose} wide>
      <div className="form mbx-from-addresses">
        <p className="muted">
          Agents choose their From address from the values of one business-attribute folder. Select or create the folder, then add each address with
          its Name (the address) and Display name. Agents see new addresses when they next sign in.
        </p>
        <ErrorNotice error={folders.error} />
        <div className="mbx-folder-choice">
          <SelectField label="Business attribute folder" value={folderId ?? ""} onChange={(v) => setFolderId(v === "" ? null : v)} choices={choices} />
          <CreateFolder
            onCreated={(folder) => {
              folders.reload();
              setFolderId(folder.id);
            }}
          />
        </div>
        {folderId ? <Values key={folderId} folderId={folderId} /> : <EmptyState title="Select or create a folder to see its addresses." />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="primary" onClick={() => onUse(folderId)} disabled={folderId === null}>
            Use this folder
          </button>
        </div>
      </div>
    </Dialog>
  );
}
