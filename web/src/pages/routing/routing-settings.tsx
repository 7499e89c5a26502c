import { useState, type FormEvent } from "react";
import { get, put } from "../../api/client";
import { CheckboxField } from "../../ui/fields";
import { ErrorNotice, fieldErrors, Loading, Notice } from "../../ui/notices";
import { useResource } from "../../use-resource";
import { FormErrorNotice, useSave } from "../../ui/form-kit";
import type { RoutingSettings } from "./routing-types";

export function RoutingSettingsSection() {
  const settings = useResource("routing-settings", () => get<RoutingSettings>("/api/v1/settings/routing"));
  // what the administrator has ticked but not saved yet; null while it matches what is stored
  const [draft, setDraft] = useState<boolean | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const save = useSave();
  const stored = settings.data?.routeToMultipleDestinations;
  const value = draft ?? stored ?? false;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(null);
    save.run(async () => {
      const answer = await put<RoutingSettings>("/api/v1/settings/routing", { routeToMultipleDestinations: value });
      setDraft(null);
      setSaved(answer.routeToMultipleDestinations ? "Route to Multiple Destinations is on." : "Route to Multiple Destinations is off.");
      settings.reload();
    });
  };

  return (
    <section className="panel" aria-labelledby="multi-title">
      <h2 id="multi-title">Route to Multiple Destinations</h2>
      <p className="muted small">
        When the recipients of an email match routes to several queues: off, it goes only to the queue of the winning route; on, each of those queues gets
        an interaction of its own for it (the email itself is stored once). It applies from the next email that arrives.
      </p>
      {settings.error ? <ErrorNotice error={settings.error} title="The routing settings could not be loaded." /> : null}
      {settings.loading ? (
        <Loading minHeight="5.5rem" />
      ) : (
        <form className="form" onSubmit={submit} noValidate>
          <CheckboxField
            label="Route to Multiple Destinations"
            checked={value}
            onChange={(on) => {
              setSaved(null);
              setDraft(on === stored ? null : on);
            }}
            error={fieldErrors(save.error)["routeToMultipleDestinations"]}
          />
          <FormErrorNotice error={save.error} fields={["routeToMultipleDestinations"]} />
          {saved ? <Notice kind="success">{saved}</Notice> : null}
          <div className="actions">
            <button type="submit" className="primary" disabled={save.busy || draft === null}>
              {save.busy ? "Saving…" : "Save setting"}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
