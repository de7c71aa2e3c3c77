enum _PMoEngageSimulator {}
