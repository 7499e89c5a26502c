import type { Mailbox } from "../../api/types";
import { EmptyState } from "../../ui/notices";
import type { ShowFilter } from "./mailboxes.types";

const clientTypeLabel = { inbound: "Inbound", outbound: "Outbound" } as const;

function Empty({ show, q, onClearSearch }: { show: ShowFilter; q: string; onClearSearch: () => void }) {
  if (q !== "" || show !== "all") {
    const what = show === "all" ? "mailboxes" : `${show} mailboxes`;
    return (
      <EmptyState title={q ? `No ${what} match “${q}”.` : `No ${what} yet.`}>
        {q ? (
          <p>
            Search looks at the mailbox name, the mailbox (login) and the host.{" "}
            <button type="button" className="link" onClick={onClearSearch}>
              Clear the search
            </button>
          </p>
        ) : (
          <p>Choose Show: All to see every mailbox, or add one with Add Mailbox.</p>
        )}
      </EmptyState>
    );
  }
  return (
    <EmptyState title="No mailboxes yet — Add Mailbox → Inbound to read mail from a support address.">
      <p>
        Add Mailbox → Outbound sets up the one server that agents’ replies are sent through. A new mailbox starts disabled: it is enabled when an
        application lists it.
      </p>
    </EmptyState>
  );
}

/**
 * The Email Mailboxes table. The selection box of an enabled mailbox is red (and says “enabled” to
 * screen readers): such a mailbox is reading or sending mail for an application and cannot be deleted.
 */
export function MailboxTable({
  items,
  selectedId,
  onSelect,
  show,
  q,
  onClearSearch,
}: {
  items: Mailbox[];
  selectedId: string | null;
  onSelect: (id: string | null) => void;
  show: ShowFilter;
  q: string;
  onClearSearch: () => void;
}) {
  if (items.length === 0) {
    return (
      <div className="table-wrap mbx-table-wrap">
        <Empty show={show} q={q} onClearSearch={onClearSearch} />
      </div>
    );
  }
  return (
    <div className="table-wrap mbx-table-wrap">
      <table className="mbx-table" aria-label="Email Mailboxes">
        <thead>
          <tr>
            <th scope="col" className="mbx-select-col">
              <span className="sr-only">Selected</span>
            </th>
            <th scope="col">Mailbox Name</th>
            <th scope="col">Mailbox</th>
            <th scope="col">Host</th>
            <th scope="col">Mailbox Type</th>
            <th scope="col">Client Type</th>
          </tr>
        </thead>
        <tbody>
          {items.map((m) => {
            const selected = m.id === selectedId;
            return (
              <tr
                key={m.id}
                className={m.enabled ? "selectable mbx-row-enabled" : "selectable"}
                aria-selected={selected}
                data-mailbox-id={m.id}
                onClick={(e) => {
                  // the box handles its own clicks (it also clears the selection)
                  if ((e.target as HTMLElement).closest("input")) return;
                  onSelect(m.id);
                }}
              >
                <td className="mbx-select-col">
                  <input
                    type="checkbox"
                    className={m.enabled ? "mbx-check mbx-enabled" : "mbx-check"}
                    data-enabled={m.enabled}
                    checked={selected}
                    aria-label={m.enabled ? `Select ${m.name}, enabled` : `Select ${m.name}, disabled`}
                    title={m.enabled ? "Enabled: an enabled application uses this mailbox, so it cannot be deleted" : "Disabled: no enabled application uses this mailbox"}
                    onChange={(e) => onSelect(e.target.checked ? m.id : null)}
                  />
                </td>
                <td className="mbx-name">{m.name}</td>
                <td className="mbx-wrap-anywhere">{m.mailbox}</td>
                <td className="mbx-wrap-anywhere">{m.host}</td>
                <td>{m.type}</td>
                <td>{clientTypeLabel[m.clientType]}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
