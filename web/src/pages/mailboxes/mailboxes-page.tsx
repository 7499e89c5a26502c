export function MailboxesPage() {
  return (
    <section>
      <h1>Email Mailboxes</h1>
    </section>
  );
}
