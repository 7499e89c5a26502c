import { useEffect, useId, useRef, useState } from "react";
import { ApiError, get, query } from "../../api/client";
import type { ClientType, List, Mailbox } from "../../api/types";
import { useRoute } from "../../router";
import { EmptyState, ErrorNotice, Loading } from "../../ui/notices";
import { useResource } from "../../use-resource";
import { AddMailboxMenu } from "./add-mailbox-menu";
import { DeleteMailboxDialog } from "./delete-mailbox-dialog";
import { MailboxDetails } from "./mailbox-details";
import { MailboxForm } from "./mailbox-form";
import { MailboxTable } from "./mailbox-table";
import type { Folder, FormTarget, ShowFilter } from "./mailboxes.types";
import "./mailboxes.css";

const base = "/mailboxes";

function selectedIdOf(path: string): string | null {
  const rest = path.startsWith(base + "/") ? path.slice(base.length + 1) : "";
  return rest === "" ? null : decodeURIComponent(rest.split("/")[0] ?? "");
}

function showOf(value: string | null): ShowFilter {
  return value === "inbound" || value === "outbound" ? value : "all";
}

/** The page's address: the selected mailbox in the path (so reload keeps it), the filter and search in the query. */
function urlOf(id: string | null, show: ShowFilter, q: string): string {
  return (id ? `${base}/${encodeURIComponent(id)}` : base) + query({ show: show === "all" ? undefined : show, q });
}

type Modal = { kind: "form"; target: FormTarget } | { kind: "delete"; mailbox: Mailbox } | null;

/**
 * Email Mailboxes: every mailbox that reads inbound mail or sends outbound mail, the selected one's
 * settings and live connection status beside the table, and the dialogs that add, edit and delete them.
 */
export function MailboxesPage() {
  const { path, search, navigate } = useRoute();
  const selectedId = selectedIdOf(path);
  const show = showOf(search.get("show"));
  const q = (search.get("q") ?? "").trim();
  const [searchText, setSearchText] = useState(q);
  const ids = useId();
  const [modal, setModal] = useState<Modal>(null);
  const addButton = useRef<HTMLButtonElement>(null);
  const editButton = useRef<HTMLButtonElement>(null);
  const deleteButton = useRef<HTMLButtonElement>(null);
  const returnFocus = useRef<HTMLElement | null>(null);
  const hadModal = useRef(false);

  const statusEvent = (e: { type: string }) => e.type === "mailbox.status" || e.type === "mailboxes.changed";
  const list = useResource(
    `mailboxes:${show}:${q}`,
    () => get<List<Mailbox>>(`/api/v1/mailboxes${query({ clientType: show, q })}`).then((r) => r.items),
    statusEvent,
  );
  // whatever the table shows, Add Mailbox must know whether the one outbound mailbox exists
  const outbound = useResource("mailboxes:outbound", () => get<List<Mailbox>>("/api/v1/mailboxes?clientType=outbound").then((r) => r.items[0] ?? null), statusEvent);
  const detail = useResource(
    `mailbox:${selectedId ?? ""}`,
    () => (selectedId ? get<Mailbox>(`/api/v1/mailboxes/${encodeURIComponent(selectedId)}`) : Promise.resolve(null)),
    (e) => (e.type === "mailbox.status" && e.mailboxId === selectedId) || e.type === "mailboxes.changed",
  );
  const folders = useResource("business-attributes", () => get<List<Folder>>("/api/v1/business-attributes").then((r) => r.items));

  // typing searches once the administrator pauses, not on every key
  useEffect(() => {
    const wanted = searchText.trim();
    if (wanted === q) return;
    const timer = window.setTimeout(() => navigate(urlOf(selectedId, show, wanted), { replace: true }), 250);
    return () => window.clearTimeout(timer);
  }, [searchText, q, selectedId, show, navigate]);

  // focus goes back to what opened a dialog once it has closed
  useEffect(() => {
    if (hadModal.current && modal === null) {
      // after a delete, Delete is disabled (nothing is selected): Add Mailbox is the next thing to do
      const from = returnFocus.current;
      const usable = from?.isConnected === true && !(from instanceof HTMLButtonElement && from.disabled);
      (usable ? from : addButton.current)?.focus();
    }
    hadModal.current = modal !== null;
  }, [modal]);

  const refresh = () => {
    list.reload();
    outbound.reload();
    detail.reload();
    folders.reload();
  };
  const select = (id: string | null) => navigate(urlOf(id, show, q));
  const open = (next: Exclude<Modal, null>, from: HTMLElement | null) => {
    returnFocus.current = from;
    setModal(next);
  };

  const selected: Mailbox | undefined =
    (detail.data && detail.data.id === selectedId ? detail.data : undefined) ?? list.data?.find((m) => m.id === selectedId) ?? undefined;
  const missing = selectedId !== null && detail.error instanceof ApiError && detail.error.status === 404;
  const outboundMailbox = outbound.data ?? undefined;

  return (
    <section className="mbx-page" aria-labelledby={`${ids}-title`}>
      <h1 id={`${ids}-title`}>Email Mailboxes</h1>
      <p className="muted mbx-page-intro">
        Mailboxes that accept inbound email (IMAP, POP3, Microsoft Graph, EWS) and the one that sends outbound email (SMTP, Graph, EWS). Select a
        mailbox to see its details and connection status.
      </p>
      <div className="toolbar mbx-toolbar">
        <AddMailboxMenu
          buttonRef={addButton}
          outboundName={outboundMailbox?.name}
          onChoose={(clientType: ClientType) => open({ kind: "form", target: { kind: "create", clientType } }, addButton.current)}
        />
        <button
          type="button"
          ref={editButton}
          disabled={!selected}
          onClick={() => selected && open({ kind: "form", target: { kind: "edit", mailbox: selected } }, editButton.current)}
        >
          Edit
        </button>
        <button
          type="button"
          ref={deleteButton}
          className="danger"
          disabled={!selected}
          aria-describedby={selected?.enabled ? `${ids}-delete-hint` : undefined}
          onClick={() => selected && open({ kind: "delete", mailbox: selected }, deleteButton.current)}
        >
          Delete
        </button>
        <span className="spacer" />
        <div className="mbx-inline-field">
          <label htmlFor={`${ids}-show`}>Show</label>
          <select id={`${ids}-show`} value={show} onChange={(e) => navigate(urlOf(selectedId, showOf(e.target.value), q), { replace: true })}>
            <option value="all">All</option>
            <option value="inbound">Inbound</option>
            <option value="outbound">Outbound</option>
          </select>
        </div>
        <div className="mbx-inline-field">
          <label htmlFor={`${ids}-search`} className="sr-only">
            Search mailboxes
          </label>
          <input
            id={`${ids}-search`}
            type="search"
            value={searchText}
            placeholder="Search name, mailbox or host"
            onChange={(e) => setSearchText(e.target.value)}
            aria-describedby={`${ids}-search-hint`}
          />
          <span id={`${ids}-search-hint`} className="sr-only">
            The table shows the mailboxes whose name, mailbox (login) or host contains the text.
          </span>
        </div>
      </div>
      <p className="mbx-toolbar-hint" id={`${ids}-delete-hint`} aria-live="polite">
        {selected?.enabled ? `${selected.name} is enabled: enabled mailboxes cannot be deleted until no enabled application uses them.` : ""}
      </p>
      {list.data === undefined ? (
        // table and details appear together: on a narrow screen the details sit under the table, and would jump as it filled
        list.error ? (
          <div>
            <ErrorNotice error={list.error} title="The mailboxes could not be loaded." />
            <button type="button" onClick={() => list.reload()}>
              Try again
            </button>
          </div>
        ) : (
          <Loading label="Loading mailboxes…" minHeight="20rem" />
        )
      ) : (
        <div className="split">
          <div className="mbx-list">
            <ErrorNotice error={list.error} title="The mailboxes could not be loaded." />
            <MailboxTable
              items={list.data}
              selectedId={selectedId}
              onSelect={select}
              show={show}
              q={q}
              onClearSearch={() => {
                setSearchText("");
                navigate(urlOf(selectedId, show, ""), { replace: true });
              }}
            />
            {list.data.length > 0 ? (
              <p className="mbx-legend small">
                <span className="mbx-legend-box" aria-hidden="true" /> A red selection box marks an enabled mailbox: an enabled application uses it, and it
                cannot be deleted.
              </p>
            ) : null}
          </div>
          <aside className="panel mbx-pane" aria-label="Mailbox details">
            {selectedId === null ? (
              <EmptyState title="No mailbox selected">Select a mailbox in the table to see its settings and live connection status.</EmptyState>
            ) : missing ? (
              <EmptyState title="This mailbox no longer exists">
                It may have been deleted.{" "}
                <button type="button" className="link" onClick={() => select(null)}>
                  Back to all mailboxes
                </button>
              </EmptyState>
            ) : selected ? (
              <MailboxDetails key={selected.id} mailbox={selected} folders={folders.data} onChanged={() => detail.reload()} />
            ) : detail.error ? (
              <ErrorNotice error={detail.error} title="The mailbox could not be loaded." />
            ) : (
              <Loading label="Loading the mailbox…" minHeight="20rem" />
            )}
          </aside>
        </div>
      )}
      {modal?.kind === "form" ? (
        <MailboxForm
          target={modal.target}
          onClose={() => setModal(null)}
          onSaved={(m) => {
            setModal(null);
            navigate(urlOf(m.id, show, q));
            refresh();
          }}
        />
      ) : null}
      {modal?.kind === "delete" ? (
        <DeleteMailboxDialog
          mailbox={modal.mailbox}
          onClose={() => setModal(null)}
          onDeleted={() => {
            setModal(null);
            navigate(urlOf(null, show, q));
            refresh();
          }}
        />
      ) : null}
    </section>
  );
}
