export function ApplicationsPage() {
  return (
    <section>
      <h1>Applications</h1>
    </section>
  );
}
