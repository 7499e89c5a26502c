export function RoutingPage() {
  return (
    <section>
      <h1>Routing</h1>
    </section>
  );
}
