export function SupervisorPage() {
  return (
    <section>
      <h1>Supervisor</h1>
    </section>
  );
}
