"""Drop-ins for peers' k-means APIs: scipy.cluster.vq, scikit-learn's KMeans, cv2.kmeans.

Built on the core's public functions only. The peers themselves are never
needed: :mod:`._peers` loads one, by name, only when it is installed and
something needs it (scikit-learn calling back into ``KMeans``, or an error
that must also be the peer's own class).
"""
