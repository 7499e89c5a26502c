export function WorkspacePage() {
  return (
    <section>
      <h1>Workspace</h1>
    </section>
  );
}
