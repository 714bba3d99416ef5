# boot: nothing beyond reaching /init (its RESULT line says so).
:
