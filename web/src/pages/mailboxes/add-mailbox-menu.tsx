import { useEffect, useId, useRef, useState, type KeyboardEvent, type RefObject } from "react";
import type { ClientType } from "../../api/types";

interface Item {
  clientType: ClientType;
  label: string;
  /** why the item cannot be chosen now; undefined when it can */
  disabledReason: string | undefined;
}

/**
 * The Add Mailbox menu button (the ARIA menu button pattern): Enter, Space or the arrow keys open it,
 * the arrow keys, Home and End move between its items, Escape closes it and returns to the button.
 * An item that cannot be chosen stays reachable so that its reason can be read.
 */
export function AddMailboxMenu({
  outboundName,
  onChoose,
  buttonRef,
}: {
  /** the name of the outbound mailbox when one exists: there can be only one */
  outboundName: string | undefined;
  onChoose: (clientType: ClientType) => void;
  /** the button, which focus returns to when a dialog opened from the menu closes */
  buttonRef: RefObject<HTMLButtonElement | null>;
}) {
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const id = useId();
  const wrapper = useRef<HTMLDivElement>(null);
  const items = useRef<(HTMLDivElement | null)[]>([]);

  const entries: Item[] = [
    { clientType: "inbound", label: "Inbound", disabledReason: undefined },
    {
      clientType: "outbound",
      label: "Outbound",
      disabledReason:
        outboundName === undefined ? undefined : `Only one outbound mailbox is permitted, and ${outboundName} exists: select it and choose Edit to change it.`,
    },
  ];

  useEffect(() => {
    if (open) items.current[active]?.focus();
  }, [open, active]);

  useEffect(() => {
    if (!open) return;
    const outside = (e: PointerEvent) => {
      if (!wrapper.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", outside);
    return () => document.removeEventListener("pointerdown", outside);
  }, [open]);

  const openAt = (index: number) => {
    setActive(index);
    setOpen(true);
  };
  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) buttonRef.current?.focus();
  };
  const choose = (item: Item) => {
    if (item.disabledReason) return;
    setOpen(false);
    onChoose(item.clientType);
  };

  const onButtonKey = (e: KeyboardEvent<HTMLButtonElement>) => {
    if (e.key === "ArrowDown" || e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      openAt(0);
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      openAt(entries.length - 1);
    }
  };

  const onMenuKey = (e: KeyboardEvent<HTMLUListElement>) => {
    const last = entries.length - 1;
    const keys: Record<string, () => void> = {
      ArrowDown: () => setActive((a) => (a >= last ? 0 : a + 1)),
      ArrowUp: () => setActive((a) => (a <= 0 ? last : a - 1)),
      Home: () => setActive(0),
      End: () => setActive(last),
      Escape: () => close(true),
      Enter: () => {
        const item = entries[active];
        if (item) choose(item);
      },
      " ": () => {
        const item = entries[active];
        if (item) choose(item);
      },
    };
    const action = keys[e.key];
    if (action) {
      e.preventDefault();
      action();
    } else if (e.key === "Tab") {
      close(false);
    }
  };

  return (
    <div className="mbx-menu-wrap" ref={wrapper}>
      <button
        ref={buttonRef}
        type="button"
        className="primary"
        id={`${id}-button`}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? `${id}-menu` : undefined}
        onClick={() => (open ? close(false) : openAt(0))}
        onKeyDown={onButtonKey}
      >
        Add Mailbox <span aria-hidden="true">▾</span>
      </button>
      {open ? (
        <ul className="mbx-menu" role="menu" id={`${id}-menu`} aria-labelledby={`${id}-button`} onKeyDown={onMenuKey}>
          {entries.map((item, index) => (
            // the reason sits beside the item, not in it, so that the item's name stays what it shows
            <li key={item.clientType} role="none" className="mbx-menu-entry">
              <div
                ref={(el) => {
                  items.current[index] = el;
                }}
                role="menuitem"
                tabIndex={-1}
                aria-disabled={item.disabledReason ? true : undefined}
                aria-describedby={item.disabledReason ? `${id}-${item.clientType}-why` : undefined}
                className={item.disabledReason ? "mbx-menu-item mbx-menu-item-disabled" : "mbx-menu-item"}
                onClick={() => choose(item)}
                onMouseEnter={() => setActive(index)}
              >
                {item.label}
              </div>
              {item.disabledReason ? (
                <div className="mbx-menu-item-why" id={`${id}-${item.clientType}-why`}>
                  {item.disabledReason}
                </div>
              ) : null}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
